"""Plugin loading and the registries it fills: models, losses, penalties, augmentations, datasets and
feature extractors.

Plugins are found through the ``ganzoo`` entry-point group (ganzoo.plugin_discovery), loaded once and
lazily (on the first call to :func:`zoo`), and isolated from each other: a plugin that fails to import,
raises inside a hook or registers something malformed (ganzoo.plugin_checks) is recorded with its error
while the others keep working. Every name of the parts is importable from here.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import pluggy

from ganzoo import hookspecs
from ganzoo.errors import GanzooError, PluginError
from ganzoo.named_registry import Registration, Registry
from ganzoo.plugin_checks import (
    AddItem,
    describe_exception,
    hook_names,
    hook_problem,
    hooks_with_checks,
    name_of,
    show,
)
from ganzoo.plugin_discovery import (
    CORE_DISTRIBUTION,
    DEFAULT_PLUGINS,
    DISABLE_ENV,
    ENTRY_POINT_GROUP,
    LOAD_ENV,
    TRACE_ENV,
    PluginInfo,
    apply_switches,
    default_plugin_infos,
    installed_plugins,
    normalise_name,
)

__all__ = [
    "CORE_DISTRIBUTION",
    "DEFAULT_PLUGINS",
    "DISABLE_ENV",
    "ENTRY_POINT_GROUP",
    "LOAD_ENV",
    "TRACE_ENV",
    "PluginInfo",
    "Registration",
    "Registry",
    "Zoo",
    "hook_names",
    "plugin_versions",
    "reset",
    "zoo",
]


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
        for info in default_plugin_infos():
            self._add_plugin(info, lambda m=info.module: importlib.import_module(m))
        self._load_entry_points()
        for plugin in self.extra_plugins:
            name = getattr(plugin, "__name__", None) or type(plugin).__name__
            module = getattr(plugin, "__module__", None) or name
            self._add_plugin(PluginInfo(name=name, module=module), lambda p=plugin: p)
        self._call_hooks()
        return self

    def _load_entry_points(self) -> None:
        installed = installed_plugins()
        # The switches are applied before the plugins are imported, so a blocked plugin runs no code.
        self.switch_warnings += apply_switches([info for info, _ in installed])
        for info, entry_point in installed:
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

    def _add_plugin(self, info: PluginInfo, load: Callable[[], object]) -> None:
        self.plugins[info.name] = info
        start = time.perf_counter()
        try:
            plugin = load()
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - any import-time failure of third-party code
            info.error = f"failed to import {info.module}: {describe_exception(exc)}"
        else:
            self._register(info, plugin)
        self._trace(f"import {info.name} ({info.module})", start, info)

    def _register(self, info: PluginInfo, plugin: object) -> None:
        manager = self.plugin_manager
        try:
            manager.register(plugin, name=info.name)
            problem = hook_problem(manager, plugin)
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
        for hook_name, add in hooks_with_checks(self.registries()):
            for impl in getattr(self.plugin_manager.hook, hook_name).get_hookimpls():  # registration order
                self._call_one(hook_name, impl, add)

    def _call_one(self, hook_name: str, impl: pluggy.HookImpl, add: AddItem) -> None:
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
                    f"it returned {show(result)}; a hook calls register(item) for each item and returns None"
                )
            for item in pending:
                add(item, info.name)
                info.registered.setdefault(hook_name.removeprefix("register_"), []).append(name_of(item))
        except Exception as exc:  # noqa: BLE001 - a plugin's bug must not break the other plugins
            cause = str(exc) if isinstance(exc, GanzooError) else describe_exception(exc)
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
            if name in info.unavailable or normalise_name(name) == normalise_name(info.name.split(" (")[0]):
                hints.append(f"Plugin {info.name!r}, which may provide it, is unavailable: {info.error}")
        if name in self.skipped:
            hints.append(f"Plugin {name!r} is installed but {self.skipped[name].skipped}.")
        elif not hints and self.skipped:
            reasons = sorted({info.skipped or "" for info in self.skipped.values()})
            hints.append(f"{len(self.skipped)} installed plugin(s) were not loaded: {'; '.join(reasons)}.")
        if not hints and self.broken():
            hints.append(
                f"Broken plugins (see `ganzoo plugins`): {', '.join(p.name for p in self.broken())}."
            )
        return " ".join(hints)


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
