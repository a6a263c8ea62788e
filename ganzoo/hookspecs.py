"""The hook specifications: the whole public contract between ganzoo and its plugins.

Every hook receives a ``register`` callable and returns nothing ("register, don't return"). A plugin
may implement any subset of the hooks and may accept fewer arguments than a spec lists. docs/plugins.md
documents each hook for plugin authors; ganzoo/plugin_checks.py validates what they register.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from ganzoo.augment import Augmentation
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

    ``spec.build_generator(image_shape, hyperparameters)`` must return a :class:`ganzoo.Generator` and
    ``spec.build_discriminator(...)`` a :class:`ganzoo.Discriminator` for every shape in
    ``spec.image_shapes``. A spec's name and aliases must be unique across all plugins; a clash is reported
    naming both plugins, and the plugin that registered the name first keeps it.
    """


@hookspec
def register_losses(register: Callable[[Loss | Penalty], None]) -> None:
    """Register adversarial losses and discriminator penalties: ``register(loss_or_penalty)``.

    Pass an instance of a :class:`ganzoo.Loss` subclass (``discriminator_loss(real_scores, fake_scores)``,
    ``generator_loss(fake_scores)``, or ``generator_loss(fake_scores, real_scores)`` when the class sets
    ``needs_real_scores = True``) or of a :class:`ganzoo.Penalty` subclass (``__call__(discriminator,
    real, fake)``), each with a unique class attribute ``name``; model specs name them in
    ``Hyperparameters.loss`` and ``Hyperparameters.penalty``. This hook runs before ``register_models``.
    """


@hookspec
def register_augmentations(register: Callable[[Augmentation], None]) -> None:
    """Register differentiable augmentations: ``register(augmentation)`` with a :class:`ganzoo.Augmentation`.

    ``augmentation(images)`` takes a float batch (N, C, H, W) in [-1, 1] and returns one of the same shape,
    drawing its random parameters per image from torch's global random stream and staying differentiable
    (G's gradient flows through it). ``--augment NAME,...`` applies the named ones, in order, to every batch
    D sees, real and generated. Each needs a unique class attribute ``name``. Runs before ``register_models``.
    """


@hookspec
def register_datasets(register: Callable[[DatasetSource], None]) -> None:
    """Register image datasets: ``register(source)`` with an instance of a :class:`ganzoo.DatasetSource`.

    ``source.load(split, options)`` returns a :class:`ganzoo.ImageDataset` of uint8 images (N, C, H, W);
    ``source.availability(options)`` a :class:`ganzoo.Availability`. Sources load lazily: registering one
    must not read or download any data.
    """


@hookspec
def register_feature_extractors(register: Callable[[FeatureExtractorSpec], None]) -> None:
    """Register feature extractors for FID/KID: ``register(spec)`` with a :class:`ganzoo.FeatureExtractorSpec`.

    ``spec.build()`` returns a module mapping uint8 images (N, C, H, W) to float features (N, D). Building
    the extractor (loading weights) happens only when a metric needs it.
    """
