"""Which plugins are installed and which of them may load: the ``ganzoo`` entry-point group, the core's
default plugins, and the switches (allow-list, block-list) applied before any plugin is imported.
"""

from __future__ import annotations

import difflib
import importlib.metadata
import os
import re
from dataclasses import dataclass, field
from typing import Any

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


def normalise_name(name: str) -> str:
    """Plugin and distribution names compare like pip's: case-insensitive, with '-', '_' and '.' equal."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _split_env(value: str) -> set[str]:
    return {normalise_name(part.strip()) for part in value.split(",") if part.strip()}


def version_of(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def default_plugin_infos() -> list[PluginInfo]:
    """The core's default plugins, in the order they register."""
    version = version_of(CORE_DISTRIBUTION)
    return [
        PluginInfo(
            name=module.replace("default_plugins.", ""),
            module=module,
            builtin=True,
            distribution=CORE_DISTRIBUTION,
            version=version,
        )
        for module in DEFAULT_PLUGINS
    ]


def installed_plugins() -> list[tuple[PluginInfo, importlib.metadata.EntryPoint]]:
    """Every entry point of the ``ganzoo`` group with what its distribution says, none of them loaded.

    The built-ins come first, then the rest by name: the order decides who keeps a name two plugins claim.
    """
    found = []
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(entry_point, "dist", None)
        info = PluginInfo(
            name=entry_point.name,
            module=entry_point.value,
            distribution=dist.metadata["Name"] if dist is not None else None,
            version=dist.version if dist is not None else None,
        )
        found.append((info, entry_point))
    found.sort(key=lambda pair: (pair[0].distribution != CORE_DISTRIBUTION, pair[0].name))
    return found


def apply_switches(infos: list[PluginInfo]) -> list[str]:
    """Mark (``info.skipped``) the plugins that :data:`LOAD_ENV` and :data:`DISABLE_ENV` keep from loading.

    Returns a warning for each name in the switches that matches no installed plugin or distribution.
    """
    allow = os.environ.get(LOAD_ENV)
    allowed = None if allow is None else _split_env(allow)
    blocked = _split_env(os.environ.get(DISABLE_ENV, ""))
    known: set[str] = set()
    for info in infos:
        keys = {normalise_name(info.name), normalise_name(info.distribution or info.name)}
        known |= keys
        if keys & blocked:
            info.skipped = f"disabled by {DISABLE_ENV}"
        elif allowed is not None and not keys & allowed:
            info.skipped = f"not listed in {LOAD_ENV}" if allowed else f"{LOAD_ENV} is set and empty"
    warnings = []
    for env, names in ((LOAD_ENV, allowed or set()), (DISABLE_ENV, blocked)):
        for name in sorted(names - known):
            close = difflib.get_close_matches(name, sorted(known), n=1)
            warnings.append(
                f"{env} names {name!r}, which is no installed plugin or distribution"
                + (f"; did you mean {close[0]!r}?" if close else ".")
                + f" Installed plugins: {', '.join(sorted(i.name for i in infos)) or 'none'}."
            )
    return warnings
