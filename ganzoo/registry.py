"""Plugin discovery and the registries it fills: models, losses, penalties, datasets, feature extractors.

Plugins are found through the ``ganzoo`` entry-point group, loaded once and lazily (on the first call to
:func:`zoo`), and isolated from each other: a plugin that fails to import, raises inside a hook or
registers something malformed is recorded with its error while the others keep working.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Iterator, TypeVar

import pluggy

from ganzoo import hookspecs
from ganzoo.errors import PluginError, UnknownNameError

ENTRY_POINT_GROUP = "ganzoo"
LOAD_ENV = "GANZOO_LOAD_PLUGINS"  # allow-list of entry-point names; set but empty = load none
DISABLE_ENV = "GANZOO_DISABLE_PLUGINS"  # block-list of entry-point names
TRACE_ENV = "GANZOO_TRACE_PLUGINS"  # "1": print each hook call with its plugin and duration

# Modules inside ganzoo that register the core's own losses, datasets and feature extractors through the
# same hooks as any plugin. They are part of the core, so the plugin switches do not apply to them.
DEFAULT_PLUGINS = (
    "ganzoo.default_plugins.losses",
    "ganzoo.default_plugins.datasets",
    "ganzoo.default_plugins.feature_extractors",
)

T = TypeVar("T")


@dataclass
class PluginInfo:
    """What `ganzoo plugins` shows about one plugin."""

    name: str  # entry-point name, or the module name of a default plugin
    module: str
    distribution: str | None = None
    version: str | None = None
    hooks: list[str] = field(default_factory=list)
    registered: dict[str, list[str]] = field(default_factory=dict)  # kind -> names it registered
    error: str | None = None  # why it is broken, if it is
    builtin: bool = False  # a default plugin inside the ganzoo package

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "module": self.module,
            "distribution": self.distribution,
            "version": self.version,
            "hooks": self.hooks,
            "registered": self.registered,
            "error": self.error,
            "builtin": self.builtin,
        }


@dataclass
class Registration(Generic[T]):
    item: T
    plugin: str


class Registry(Generic[T]):
    """Items of one kind by name and alias, each remembering the plugin that registered it."""

    def __init__(self, kind: str, zoo: Zoo) -> None:
        self.kind = kind
        self._zoo = zoo
        self._by_name: dict[str, Registration[T]] = {}
        self._aliases: dict[str, str] = {}
        self._conflicts: dict[str, list[str]] = {}  # name -> the plugins that all claimed it

    def add(self, name: str, aliases: tuple[str, ...], item: T, plugin: str) -> None:
        for key in (name, *aliases):
            owner = self._owner(key)
            if owner is not None:
                raise PluginError(
                    f"{self.kind} name {key!r} is registered by both plugin {owner!r} and plugin {plugin!r}; "
                    f"uninstall one or disable it with {DISABLE_ENV}={plugin}."
                )
        self._by_name[name] = Registration(item, plugin)
        for alias in aliases:
            self._aliases[alias] = name

    def _owner(self, key: str) -> str | None:
        if key in self._by_name:
            return self._by_name[key].plugin
        if key in self._aliases:
            return self._by_name[self._aliases[key]].plugin
        return None

    def canonical(self, name: str) -> str:
        return self._aliases.get(name, name)

    def get(self, name: str) -> T:
        return self.registration(name).item

    def registration(self, name: str) -> Registration[T]:
        key = self.canonical(name)
        if key in self._by_name:
            return self._by_name[key]
        raise UnknownNameError(self.kind, name, self.names(), extra=self._zoo.why_missing(name))

    def plugin_of(self, name: str) -> str:
        return self.registration(name).plugin

    def names(self) -> list[str]:
        return sorted(self._by_name)

    def aliases_of(self, name: str) -> list[str]:
        return sorted(a for a, n in self._aliases.items() if n == name)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.canonical(name) in self._by_name

    def __iter__(self) -> Iterator[tuple[str, T]]:
        for name in self.names():
            yield name, self._by_name[name].item

    def __len__(self) -> int:
        return len(self._by_name)


def _split_env(value: str) -> set[str]:
    return {part.strip() for part in value.split(",") if part.strip()}


class Zoo:
    """The loaded plugins and everything they registered. Get the process-wide one with :func:`zoo`."""

    def __init__(self) -> None:
        self.plugin_manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.plugin_manager.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self.skipped: dict[str, str] = {}  # entry-point name -> why it was not loaded
        self.models: Registry = Registry("model", self)
        self.losses: Registry = Registry("loss", self)
        self.penalties: Registry = Registry("penalty", self)
        self.datasets: Registry = Registry("dataset", self)
        self.feature_extractors: Registry = Registry("feature extractor", self)
        self.trace = os.environ.get(TRACE_ENV, "") not in ("", "0")

    # -- loading -------------------------------------------------------------------------------------
    def load(self) -> Zoo:
        for module_name in DEFAULT_PLUGINS:
            info = PluginInfo(name=module_name.replace("default_plugins.", ""), module=module_name, builtin=True)
            info.distribution, info.version = "ganzoo", _version_of("ganzoo")
            self._add_plugin(info, lambda m=module_name: importlib.import_module(m))
        allow = os.environ.get(LOAD_ENV)
        allowed = None if allow is None else _split_env(allow)
        blocked = _split_env(os.environ.get(DISABLE_ENV, ""))
        seen: set[str] = set()
        for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            if entry_point.name in seen or entry_point.name in self.plugins:
                continue  # the same distribution found twice on sys.path
            seen.add(entry_point.name)
            # The switches are applied before the plugin is imported, so a blocked plugin runs no code.
            if entry_point.name in blocked:
                self.skipped[entry_point.name] = f"disabled by {DISABLE_ENV}"
                continue
            if allowed is not None and entry_point.name not in allowed:
                self.skipped[entry_point.name] = f"not listed in {LOAD_ENV}"
                continue
            dist = getattr(entry_point, "dist", None)
            info = PluginInfo(
                name=entry_point.name,
                module=entry_point.value,
                distribution=dist.metadata["Name"] if dist is not None else None,
                version=dist.version if dist is not None else None,
            )
            self._add_plugin(info, entry_point.load)
        self._call_hooks()
        return self

    def _add_plugin(self, info: PluginInfo, load: Callable[[], object]) -> None:
        self.plugins[info.name] = info
        try:
            plugin = load()
        except Exception as exc:  # any import-time failure of third-party code
            info.error = f"failed to import {info.module}: {type(exc).__name__}: {exc}"
            return
        try:
            self.plugin_manager.register(plugin, name=info.name)
            self.plugin_manager.check_pending()
        except Exception as exc:  # pluggy's validation: misspelt hooks, wrong arguments
            if self.plugin_manager.is_registered(plugin):
                self.plugin_manager.unregister(plugin)
            info.error = f"invalid hook implementation: {exc}"
            return
        info.hooks = sorted(caller.name for caller in self.plugin_manager.get_hookcallers(plugin) or [])

    def _call_hooks(self) -> None:
        from ganzoo.datasets.base import DatasetSource
        from ganzoo.losses import Loss, Penalty
        from ganzoo.metrics.extractors import FeatureExtractorSpec

        def add_model(item: Any, plugin: str) -> None:
            _check_model_spec(item)
            self.models.add(item.name, tuple(item.aliases), item, plugin)

        def add_loss(item: Any, plugin: str) -> None:
            if isinstance(item, Loss):
                self.losses.add(_name_of(item), (), item, plugin)
            elif isinstance(item, Penalty):
                self.penalties.add(_name_of(item), (), item, plugin)
            else:
                raise PluginError(f"register_losses expects a Loss or Penalty instance, got {item!r}")

        def typed(kind: str, cls: type, registry: Registry) -> Callable[[Any, str], None]:
            def add(item: Any, plugin: str) -> None:
                if not isinstance(item, cls):
                    raise PluginError(f"{kind} expects a {cls.__name__} instance, got {item!r}")
                registry.add(_name_of(item), tuple(getattr(item, "aliases", ())), item, plugin)

            return add

        hooks = (
            ("register_losses", add_loss),
            ("register_models", add_model),
            ("register_datasets", typed("register_datasets", DatasetSource, self.datasets)),
            (
                "register_feature_extractors",
                typed("register_feature_extractors", FeatureExtractorSpec, self.feature_extractors),
            ),
        )
        for hook_name, add in hooks:
            caller = getattr(self.plugin_manager.hook, hook_name)
            for impl in reversed(caller.get_hookimpls()):  # registration order
                self._call_one(hook_name, impl, add)

    def _call_one(self, hook_name: str, impl: pluggy.HookImpl, add: Callable[[Any, str], None]) -> None:
        info = self.plugins[impl.plugin_name]
        if info.error:
            return
        pending: list[Any] = []
        start = time.perf_counter()
        try:
            kwargs = {"register": pending.append}
            impl.function(**{arg: kwargs[arg] for arg in impl.argnames})
            for item in pending:
                add(item, info.name)
                kind = hook_name.removeprefix("register_")
                info.registered.setdefault(kind, []).append(_name_of(item))
        except Exception as exc:
            info.error = f"{hook_name} raised {type(exc).__name__}: {exc}"
            self._forget(info.name)
        if self.trace:
            elapsed_ms = (time.perf_counter() - start) * 1e3
            print(
                f"[ganzoo trace] {hook_name} -> plugin {info.name} ({info.module}): "
                f"{elapsed_ms:.2f} ms, {len(pending)} registered"
                + (f", error: {info.error}" if info.error else ""),
                file=sys.stderr,
            )

    def _forget(self, plugin: str) -> None:
        """Drop everything a now-broken plugin registered, so no half-registered plugin is used."""
        for registry in self.registries().values():
            for name in [n for n, r in registry._by_name.items() if r.plugin == plugin]:
                del registry._by_name[name]
                for alias in [a for a, n in registry._aliases.items() if n == name]:
                    del registry._aliases[alias]
        self.plugins[plugin].registered.clear()

    # -- queries -------------------------------------------------------------------------------------
    def registries(self) -> dict[str, Registry]:
        return {
            "models": self.models,
            "losses": self.losses,
            "penalties": self.penalties,
            "datasets": self.datasets,
            "feature_extractors": self.feature_extractors,
        }

    def broken(self) -> list[PluginInfo]:
        return [p for p in self.plugins.values() if p.error]

    def why_missing(self, name: str) -> str:
        """A hint for an unknown name: a broken plugin that may have provided it, or the switches."""
        hints = []
        for info in self.broken():
            if info.name == name or name.startswith(info.name):
                hints.append(f"Plugin {info.name!r}, which may provide it, is unavailable: {info.error}")
        if name in self.skipped:
            hints.append(f"Plugin {name!r} is installed but {self.skipped[name]}.")
        elif not hints and self.broken():
            names = ", ".join(p.name for p in self.broken())
            hints.append(f"Broken plugins (see `ganzoo plugins`): {names}.")
        return " ".join(hints)


def _name_of(item: Any) -> str:
    name = getattr(item, "name", None)
    if not isinstance(name, str) or not name:
        raise PluginError(f"{item!r} has no string 'name'")
    return name


def _check_model_spec(spec: Any) -> None:
    from ganzoo.spec import Hyperparameters, ModelSpec

    if not isinstance(spec, ModelSpec):
        raise PluginError(f"register_models expects a ganzoo.ModelSpec, got {type(spec).__name__}")
    problems = []
    if not isinstance(spec.name, str) or not spec.name or any(c.isspace() or c == ":" for c in spec.name):
        problems.append(f"name must be a non-empty string without spaces or ':', got {spec.name!r}")
    if not all(isinstance(a, str) and a for a in spec.aliases):
        problems.append(f"aliases must be strings, got {spec.aliases!r}")
    if not callable(spec.build_generator) or not callable(spec.build_discriminator):
        problems.append("build_generator and build_discriminator must be callables")
    if not isinstance(spec.defaults, Hyperparameters):
        problems.append(f"defaults must be a ganzoo.Hyperparameters, got {type(spec.defaults).__name__}")
    shapes_ok = bool(spec.image_shapes) and all(
        isinstance(s, tuple) and len(s) == 3 and all(isinstance(v, int) and v > 0 for v in s)
        for s in spec.image_shapes
    )
    if not shapes_ok:
        problems.append(f"image_shapes must be a non-empty tuple of (C, H, W) int tuples, got {spec.image_shapes!r}")
    if problems:
        raise PluginError(f"malformed model spec {getattr(spec, 'name', '?')!r}: " + "; ".join(problems))


def _version_of(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


_zoo: Zoo | None = None
_lock = threading.Lock()


def zoo() -> Zoo:
    """The process-wide registry, loading the plugins on first use."""
    global _zoo
    with _lock:
        if _zoo is None:
            _zoo = Zoo().load()
        return _zoo


def reset() -> None:
    """Forget the loaded plugins; the next :func:`zoo` call loads them again (tests use this)."""
    global _zoo
    with _lock:
        _zoo = None


def plugin_versions() -> dict[str, str | None]:
    """Loaded plugins and their versions, for provenance in run configs and results."""
    return {name: info.version for name, info in zoo().plugins.items() if not info.error}
