"""The registry of one kind of thing (models, losses, datasets...): items by name and alias, each
remembering the plugin that registered it, with clashes between plugins refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from ganzoo.errors import PluginError, UnknownNameError
from ganzoo.plugin_discovery import DISABLE_ENV

T = TypeVar("T")


class MissingNameHints(Protocol):
    """What a registry asks, for an unknown name, about why it may be missing (the :class:`~ganzoo.registry.Zoo`)."""

    def why_missing(self, name: str) -> str: ...


@dataclass
class Registration(Generic[T]):
    item: T
    plugin: str


class Registry(Generic[T]):
    """Items of one kind by name and alias, each remembering the plugin that registered it."""

    def __init__(self, kind: str, zoo: MissingNameHints) -> None:
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
