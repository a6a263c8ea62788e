"""Plugin discovery and the registries it fills: models, losses, penalties, augmentations, datasets and
feature extractors.

Plugins are found through the ``ganzoo`` entry-point group, loaded once and lazily (on the first call to
:func:`zoo`), and isolated from each other: a plugin that fails to import, raises inside a hook or
registers something malformed is recorded with its error while the others keep working.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata
import os
import re
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import pluggy

from ganzoo import hookspecs
from ganzoo.errors import GanzooError, PluginError, UnknownNameError, UsageError

ENTRY_POINT_GROUP = "ganzoo"
LOAD_ENV = "GANZOO_LOAD_PLUGINS"  # allow-list of plugin or distribution names; set but empty = load none
DISABLE_ENV = "GANZOO_DISABLE_PLUGINS"  # block-list of plugin or distribution names
TRACE_ENV = "GANZOO_TRACE_PLUGINS"  # "1": print each plugin import and hook call with its duration

# Modules inside ganzoo that register the core's own losses, datasets and feature extractors through the
# same hooks as any plugin. They are part of the core, so the plugin switches do not apply to them.
DEFAULT_PLUGINS = (
    "ganzoo.default_plugins.losses",
    "ganzoo.default_plugins.augmentations",
    "ganzoo.default_plugins.datasets",
    "ganzoo.default_plugins.feature_extractors",
)
CORE_DISTRIBUTION = "ganzoo"

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
    skipped: str | None = None  # why a switch kept it from loading; it was never imported
    unavailable: list[str] = field(default_factory=list)  # names it tried to register before it broke

    @property
    def status(self) -> str:
        return "skipped" if self.skipped else "broken" if self.error else "ok"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "module": self.module,
            "distribution": self.distribution,
            "version": self.version,
            "status": self.status,
            "hooks": self.hooks,
            "registered": self.registered,
            "error": self.error,
            "skipped": self.skipped,
            "unavailable": self.unavailable,
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

    def add(self, name: str, aliases: tuple[str, ...], item: T, plugin: str) -> None:
        keys = (name, *aliases)
        for key in keys:
            owner = self._owner(key)
            if owner == plugin or keys.count(key) > 1:
                raise PluginError(f"plugin {plugin!r} registers the {self.kind} name {key!r} twice.")
            if owner is not None:
                raise PluginError(
                    f"{self.kind} name {key!r} is registered by both plugin {owner!r} and plugin {plugin!r}; "
                    f"uninstall one or disable it with {DISABLE_ENV}={plugin}."
                )
        self._by_name[name] = Registration(item, plugin)
        for alias in aliases:
            self._aliases[alias] = name

    def remove_plugin(self, plugin: str) -> None:
        """Drop every item ``plugin`` registered, with its aliases."""
        for name in [n for n, r in self._by_name.items() if r.plugin == plugin]:
            del self._by_name[name]
            for alias in [a for a, n in self._aliases.items() if n == name]:
                del self._aliases[alias]

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


def _normalise(name: str) -> str:
    """Plugin and distribution names compare like pip's: case-insensitive, with '-', '_' and '.' equal."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _split_env(value: str) -> set[str]:
    return {_normalise(part.strip()) for part in value.split(",") if part.strip()}


class Zoo:
    """The loaded plugins and everything they registered. Get the process-wide one with :func:`zoo`.

    ``extra_plugins`` are registered after the installed ones, under their ``__name__`` (or class name),
    whatever the switches say: tests use them to try a plugin without installing it.
    """

    def __init__(self, extra_plugins: Iterable[object] = ()) -> None:
        self.plugin_manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.plugin_manager.add_hookspecs(hookspecs)
        self.extra_plugins = list(extra_plugins)
        self.plugins: dict[str, PluginInfo] = {}  # imported (or tried to), by name
        self.skipped: dict[str, PluginInfo] = {}  # kept from loading by a switch, by name
        self.switch_warnings: list[str] = []  # names in the switches that match no installed plugin
        self.models: Registry = Registry("model", self)
        self.losses: Registry = Registry("loss", self)
        self.penalties: Registry = Registry("penalty", self)
        self.augmentations: Registry = Registry("augmentation", self)
        self.datasets: Registry = Registry("dataset", self)
        self.feature_extractors: Registry = Registry("feature extractor", self)
        self.trace = os.environ.get(TRACE_ENV, "") not in ("", "0")

    # -- loading -------------------------------------------------------------------------------------
    def load(self) -> Zoo:
        for module_name in DEFAULT_PLUGINS:
            info = PluginInfo(name=module_name.replace("default_plugins.", ""), module=module_name, builtin=True)
            info.distribution, info.version = CORE_DISTRIBUTION, _version_of(CORE_DISTRIBUTION)
            self._add_plugin(info, lambda m=module_name: importlib.import_module(m))
        self._load_entry_points()
        for plugin in self.extra_plugins:
            name = getattr(plugin, "__name__", None) or type(plugin).__name__
            module = getattr(plugin, "__module__", None) or name
            self._add_plugin(PluginInfo(name=name, module=module), lambda p=plugin: p)
        self._call_hooks()
        return self

    def _load_entry_points(self) -> None:
        allow = os.environ.get(LOAD_ENV)
        allowed = None if allow is None else _split_env(allow)
        blocked = _split_env(os.environ.get(DISABLE_ENV, ""))
        infos = []
        for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            dist = getattr(entry_point, "dist", None)
            info = PluginInfo(
                name=entry_point.name,
                module=entry_point.value,
                distribution=dist.metadata["Name"] if dist is not None else None,
                version=dist.version if dist is not None else None,
            )
            infos.append((info, entry_point))
        # The built-ins first, then the rest by name: the order decides who keeps a name two plugins claim.
        infos.sort(key=lambda pair: (pair[0].distribution != CORE_DISTRIBUTION, pair[0].name))
        known = set()
        for info, entry_point in infos:
            keys = {_normalise(info.name), _normalise(info.distribution or info.name)}
            known |= keys
            # The switches are applied before the plugin is imported, so a blocked plugin runs no code.
            if keys & blocked:
                info.skipped = f"disabled by {DISABLE_ENV}"
            elif allowed is not None and not keys & allowed:
                info.skipped = f"not listed in {LOAD_ENV}" if allowed else f"{LOAD_ENV} is set and empty"
            if info.skipped:
                self.skipped[info.name] = info
            elif info.name in self.plugins:
                first = self.plugins[info.name]
                info.name = f"{info.name} ({info.distribution})"
                info.error = (
                    f"plugin name {first.name!r} is used by both {first.distribution} and {info.distribution}; "
                    f"uninstall one of them."
                )
                self.plugins[info.name] = info
            else:
                self._add_plugin(info, entry_point.load)
        for env, names in ((LOAD_ENV, allowed or set()), (DISABLE_ENV, blocked)):
            for name in sorted(names - known):
                close = difflib.get_close_matches(name, sorted(known), n=1)
                self.switch_warnings.append(
                    f"{env} names {name!r}, which is no installed plugin or distribution"
                    + (f"; did you mean {close[0]!r}?" if close else ".")
                    + f" Installed plugins: {', '.join(sorted(i.name for i, _ in infos)) or 'none'}."
                )

    def _add_plugin(self, info: PluginInfo, load: Callable[[], object]) -> None:
        self.plugins[info.name] = info
        start = time.perf_counter()
        try:
            plugin = load()
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - any import-time failure of third-party code
            info.error = f"failed to import {info.module}: {_describe(exc)}"
        else:
            self._register(info, plugin)
        self._trace(f"import {info.name} ({info.module})", start, info)

    def _register(self, info: PluginInfo, plugin: object) -> None:
        manager = self.plugin_manager
        try:
            manager.register(plugin, name=info.name)
            problem = _hook_problem(manager, plugin)
            if problem is None:
                manager.check_pending()
        except (pluggy.PluginValidationError, ValueError) as exc:  # pluggy: bad arguments, duplicate plugin
            problem = f"invalid hook implementation: {exc}"
        if problem is None:
            info.hooks = sorted(caller.name for caller in manager.get_hookcallers(plugin) or [])
            return
        info.error = problem
        if manager.get_plugin(info.name) is plugin:
            manager.unregister(plugin)

    def _call_hooks(self) -> None:
        from ganzoo.augment import Augmentation
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
                raise PluginError(
                    f"register_losses expects a ganzoo.Loss or ganzoo.Penalty instance, got {_show(item)}."
                )

        def typed(cls: type, registry: Registry) -> Callable[[Any, str], None]:
            def add(item: Any, plugin: str) -> None:
                if not isinstance(item, cls):
                    raise PluginError(f"expected a ganzoo.{cls.__name__} instance, got {_show(item)}.")
                aliases = getattr(item, "aliases", ())
                if not isinstance(aliases, (tuple, list)) or not all(isinstance(a, str) and a for a in aliases):
                    raise PluginError(f"{_name_of(item)!r}: aliases must be a tuple of strings, got {aliases!r}.")
                registry.add(_name_of(item), tuple(aliases), item, plugin)

            return add

        # Losses first, so that later hooks (and model specs) can rely on them.
        hooks = (
            ("register_losses", add_loss),
            ("register_augmentations", typed(Augmentation, self.augmentations)),
            ("register_models", add_model),
            ("register_datasets", typed(DatasetSource, self.datasets)),
            ("register_feature_extractors", typed(FeatureExtractorSpec, self.feature_extractors)),
        )
        for hook_name, add in hooks:
            for impl in getattr(self.plugin_manager.hook, hook_name).get_hookimpls():  # registration order
                self._call_one(hook_name, impl, add)

    def _call_one(self, hook_name: str, impl: pluggy.HookImpl, add: Callable[[Any, str], None]) -> None:
        info = self.plugins[impl.plugin_name]
        if info.error:
            return
        pending: list[Any] = []
        start = time.perf_counter()
        try:
            arguments = {"register": pending.append}
            result = impl.function(**{arg: arguments[arg] for arg in impl.argnames})
            if result is not None:
                raise PluginError(
                    f"it returned {_show(result)}; a hook calls register(item) for each item and returns None"
                )
            for item in pending:
                add(item, info.name)
                info.registered.setdefault(hook_name.removeprefix("register_"), []).append(_name_of(item))
        except Exception as exc:  # noqa: BLE001 - a plugin's bug must not break the other plugins
            cause = str(exc) if isinstance(exc, GanzooError) else _describe(exc)
            info.error = f"{hook_name} failed: {cause}"
            self._forget(info, pending)
        self._trace(f"{hook_name} -> plugin {info.name} ({info.module})", start, info, len(pending))

    def _forget(self, info: PluginInfo, pending: list[Any]) -> None:
        """Drop everything a now-broken plugin registered, so no half-registered plugin is used."""
        for registry in self.registries().values():
            registry.remove_plugin(info.name)
        names = [name for names in info.registered.values() for name in names]
        names += [getattr(item, "name", None) for item in pending]
        info.unavailable = sorted({n for n in names if isinstance(n, str) and n})
        info.registered.clear()

    def _trace(self, what: str, start: float, info: PluginInfo, registered: int | None = None) -> None:
        if not self.trace:
            return
        message = f"[ganzoo trace] {what}: {(time.perf_counter() - start) * 1e3:.2f} ms"
        if registered is not None:
            message += f", {registered} registered"
        if info.error:
            message += f", error: {info.error}"
        print(message, file=sys.stderr)

    # -- queries -------------------------------------------------------------------------------------
    def registries(self) -> dict[str, Registry]:
        return {
            "models": self.models,
            "losses": self.losses,
            "penalties": self.penalties,
            "augmentations": self.augmentations,
            "datasets": self.datasets,
            "feature_extractors": self.feature_extractors,
        }

    def broken(self) -> list[PluginInfo]:
        return [p for p in self.plugins.values() if p.error]

    def why_missing(self, name: str) -> str:
        """A hint for an unknown name: a broken plugin that provided it, or the switches that hid it."""
        hints = []
        for info in self.broken():
            if name in info.unavailable or _normalise(name) == _normalise(info.name.split(" (")[0]):
                hints.append(f"Plugin {info.name!r}, which may provide it, is unavailable: {info.error}")
        if name in self.skipped:
            hints.append(f"Plugin {name!r} is installed but {self.skipped[name].skipped}.")
        elif not hints and self.skipped:
            reasons = sorted({info.skipped or "" for info in self.skipped.values()})
            hints.append(f"{len(self.skipped)} installed plugin(s) were not loaded: {'; '.join(reasons)}.")
        if not hints and self.broken():
            hints.append(f"Broken plugins (see `ganzoo plugins`): {', '.join(p.name for p in self.broken())}.")
        return " ".join(hints)


def _describe(exc: BaseException) -> str:
    """``Type: message (at file:line)``, the line being the innermost frame, where a plugin author looks."""
    text = f"{type(exc).__name__}: {exc}"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith("<frozen")]
    if frames and not isinstance(exc, SyntaxError):  # a SyntaxError's message already names its line
        text += f" (at {frames[-1].filename}:{frames[-1].lineno})"
    return text


def _show(item: Any) -> str:
    text = repr(item)
    return f"{type(item).__name__} {text[:80] + '...' if len(text) > 80 else text}"


def hook_names() -> list[str]:
    """The hooks a plugin may implement, as declared in ganzoo.hookspecs."""
    marker = f"{hookspecs.PROJECT_NAME}_spec"  # the attribute pluggy's HookspecMarker sets
    return sorted(name for name, value in vars(hookspecs).items() if hasattr(value, marker))


def _hook_problem(manager: pluggy.PluginManager, plugin: object) -> str | None:
    """Why a registered plugin is unusable: no hooks, a misspelt hook, or a hook missing its marker."""
    names = hook_names()
    unmarked = [
        name
        for name in names
        if callable(getattr(plugin, name, None)) and manager.parse_hookimpl_opts(plugin, name) is None
    ]
    if unmarked:
        return (
            f"{', '.join(unmarked)} is not decorated with @ganzoo.hookimpl, so ganzoo would never call it; "
            f"add the decorator."
        )
    callers = manager.get_hookcallers(plugin) or []
    for caller in callers:
        if caller.spec is None:
            close = difflib.get_close_matches(caller.name, names, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            return f"it implements {caller.name!r}, which is not a ganzoo hook.{hint} The hooks: {', '.join(names)}."
    if not callers:
        return f"it implements no ganzoo hook; decorate one of {', '.join(names)} with @ganzoo.hookimpl."
    return None


def _name_of(item: Any) -> str:
    name = getattr(item, "name", None)
    if not isinstance(name, str) or not name:
        raise PluginError(f"{_show(item)} has no non-empty string attribute 'name'.")
    return name


def _check_model_spec(spec: Any) -> None:
    from ganzoo.spec import Hyperparameters, ModelSpec

    if not isinstance(spec, ModelSpec):
        raise PluginError(f"register_models expects a ganzoo.ModelSpec, got {_show(spec)}.")
    problems = []
    if not isinstance(spec.name, str) or not spec.name or any(c.isspace() or c == ":" for c in spec.name):
        problems.append(f"name must be a non-empty string without spaces or ':', got {spec.name!r}")
    if not isinstance(spec.aliases, (tuple, list)) or not all(isinstance(a, str) and a for a in spec.aliases):
        problems.append(f"aliases must be a tuple of strings, got {spec.aliases!r}")
    for text_field in ("summary", "paper"):
        if not isinstance(getattr(spec, text_field), str):
            problems.append(f"{text_field} must be a string, got {getattr(spec, text_field)!r}")
    if not callable(spec.build_generator) or not callable(spec.build_discriminator):
        problems.append("build_generator and build_discriminator must be callables")
    if not isinstance(spec.defaults, Hyperparameters):
        problems.append(f"defaults must be a ganzoo.Hyperparameters, got {type(spec.defaults).__name__}")
    else:
        try:
            spec.defaults.validate()
        except UsageError as exc:
            problems.append(f"defaults: {exc}")
    shapes_ok = (
        isinstance(spec.image_shapes, (tuple, list))
        and bool(spec.image_shapes)
        and all(
            isinstance(s, (tuple, list)) and len(s) == 3 and all(isinstance(v, int) and v > 0 for v in s)
            for s in spec.image_shapes
        )
    )
    if not shapes_ok:
        problems.append(f"image_shapes must be a non-empty tuple of (C, H, W) int tuples, got {spec.image_shapes!r}")
    if problems:
        raise PluginError(f"malformed model spec {getattr(spec, 'name', '?')!r}: " + "; ".join(problems) + ".")


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
