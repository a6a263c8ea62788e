"""Checks of what a plugin hands over: its hook implementations (a misspelt or undecorated hook) and every
item it registers (a malformed model spec, the wrong type), each failure a sentence its author can act on.
"""

from __future__ import annotations

import difflib
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

from ganzoo import hookspecs
from ganzoo.errors import PluginError, UsageError

if TYPE_CHECKING:
    from ganzoo.named_registry import Registry

AddItem = Callable[[Any, str], None]  # (item, plugin name): check the item and file it in its registry


def describe_exception(exc: BaseException) -> str:
    """``Type: message (at file:line)``, the line being the innermost frame, where a plugin author looks."""
    text = f"{type(exc).__name__}: {exc}"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith("<frozen")]
    if frames and not isinstance(exc, SyntaxError):  # a SyntaxError's message already names its line
        text += f" (at {frames[-1].filename}:{frames[-1].lineno})"
    return text


def show(item: Any) -> str:
    """A short description of something a plugin passed: its type and its repr, cut at 80 characters."""
    text = repr(item)
    return f"{type(item).__name__} {text[:80] + '...' if len(text) > 80 else text}"


def hook_names() -> list[str]:
    """The hooks a plugin may implement, as declared in ganzoo.hookspecs."""
    marker = f"{hookspecs.PROJECT_NAME}_spec"  # the attribute pluggy's HookspecMarker sets
    return sorted(name for name, value in vars(hookspecs).items() if hasattr(value, marker))


def hook_problem(manager: pluggy.PluginManager, plugin: object) -> str | None:
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


def name_of(item: Any) -> str:
    name = getattr(item, "name", None)
    if not isinstance(name, str) or not name:
        raise PluginError(f"{show(item)} has no non-empty string attribute 'name'.")
    return name


def check_model_spec(spec: Any) -> None:
    """Raise a PluginError listing everything wrong with a registered model spec, if anything is."""
    from ganzoo.spec import Hyperparameters, ModelSpec

    if not isinstance(spec, ModelSpec):
        raise PluginError(f"register_models expects a ganzoo.ModelSpec, got {show(spec)}.")
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
        problems.append(
            f"image_shapes must be a non-empty tuple of (C, H, W) int tuples, got {spec.image_shapes!r}"
        )
    if problems:
        raise PluginError(
            f"malformed model spec {getattr(spec, 'name', '?')!r}: " + "; ".join(problems) + "."
        )


def hooks_with_checks(registries: dict[str, Registry]) -> tuple[tuple[str, AddItem], ...]:
    """The registration hooks in the order they are called, each with the function that checks one item a
    plugin registers through it and files it in ``registries``. Losses come first, so that later hooks (and
    model specs) can rely on them."""
    from ganzoo.augment import Augmentation
    from ganzoo.datasets.base import DatasetSource
    from ganzoo.losses import Loss, Penalty
    from ganzoo.metrics.extractors import FeatureExtractorSpec

    def add_model(item: Any, plugin: str) -> None:
        check_model_spec(item)
        registries["models"].add(item.name, tuple(item.aliases), item, plugin)

    def add_loss(item: Any, plugin: str) -> None:
        if isinstance(item, Loss):
            registries["losses"].add(name_of(item), (), item, plugin)
        elif isinstance(item, Penalty):
            registries["penalties"].add(name_of(item), (), item, plugin)
        else:
            raise PluginError(
                f"register_losses expects a ganzoo.Loss or ganzoo.Penalty instance, got {show(item)}."
            )

    def typed(cls: type, registry: Registry) -> AddItem:
        def add(item: Any, plugin: str) -> None:
            if not isinstance(item, cls):
                raise PluginError(f"expected a ganzoo.{cls.__name__} instance, got {show(item)}.")
            aliases = getattr(item, "aliases", ())
            if not isinstance(aliases, (tuple, list)) or not all(isinstance(a, str) and a for a in aliases):
                raise PluginError(f"{name_of(item)!r}: aliases must be a tuple of strings, got {aliases!r}.")
            registry.add(name_of(item), tuple(aliases), item, plugin)

        return add

    return (
        ("register_losses", add_loss),
        ("register_augmentations", typed(Augmentation, registries["augmentations"])),
        ("register_models", add_model),
        ("register_datasets", typed(DatasetSource, registries["datasets"])),
        ("register_feature_extractors", typed(FeatureExtractorSpec, registries["feature_extractors"])),
    )
