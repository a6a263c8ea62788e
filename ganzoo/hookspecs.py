"""The hook specifications: the whole public contract between ganzoo and its plugins.

Every hook receives a ``register`` callable and returns nothing ("register, don't return"). A plugin
may implement any subset of the hooks and may accept fewer arguments than a spec lists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import pluggy

if TYPE_CHECKING:
    from ganzoo.datasets.base import DatasetSource
    from ganzoo.losses import Loss, Penalty
    from ganzoo.metrics.extractors import FeatureExtractorSpec
    from ganzoo.spec import ModelSpec

PROJECT_NAME = "ganzoo"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def register_models(register: Callable[[ModelSpec], None]) -> None:
    """Register GAN variants: call ``register(spec)`` once per :class:`ganzoo.ModelSpec`.

    A spec's name and aliases must be unique across all plugins; a clash is reported naming both plugins.
    """


@hookspec
def register_losses(register: Callable[[Loss | Penalty], None]) -> None:
    """Register adversarial losses and discriminator penalties: ``register(loss_or_penalty)``.

    Pass an instance of :class:`ganzoo.Loss` or :class:`ganzoo.Penalty`; model specs name them in
    ``Hyperparameters.loss`` and ``Hyperparameters.penalty``.
    """


@hookspec
def register_datasets(register: Callable[[DatasetSource], None]) -> None:
    """Register image datasets: ``register(source)`` with a :class:`ganzoo.DatasetSource`.

    Sources load lazily: registering one must not read or download any data.
    """


@hookspec
def register_feature_extractors(register: Callable[[FeatureExtractorSpec], None]) -> None:
    """Register feature extractors for FID/KID: ``register(spec)`` with a :class:`ganzoo.FeatureExtractorSpec`.

    Building the extractor (loading weights) happens only when a metric needs it.
    """
