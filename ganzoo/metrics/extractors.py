"""Feature extractors for FID and KID, registered by plugins and built lazily."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ganzoo.errors import UsageError


@dataclass(frozen=True)
class FeatureExtractorSpec:
    """A registered feature extractor: ``build()`` returns a module mapping uint8 images to (N, D) features.

    The module receives uint8 images (N, C, H, W) of any size and channel count the dataset has; it should
    convert them to what it needs. It may set ``num_features`` (D), ``weights_sha256`` ("sha256:...",
    recorded beside every score as the extractor's provenance) and ``max_batch_size`` (images per call).
    It should have ``describe_input(images) -> InputConversions``, which says what it does to such images.
    """

    name: str  # registry name, e.g. "lenet-mnist"
    summary: str  # one line for listings
    build: Callable[[], nn.Module]  # loads weights; called only when a metric needs it
    aliases: tuple[str, ...] = ()
    # For extractors whose weights the user supplies: build from a local weights file (--inception-weights).
    build_from_file: Callable[[Path], nn.Module] | None = None


def build_feature_extractor(name: str, weights: str | Path | None = None) -> tuple[str, nn.Module]:
    """The registered extractor ``name`` (or alias) built in eval mode, with its canonical name.

    ``weights`` is a local weights file, for extractors that accept one; others refuse it.
    """
    from ganzoo.registry import zoo

    registry = zoo().feature_extractors
    spec: FeatureExtractorSpec = registry.get(name)
    if weights is None:
        module = spec.build()
    elif spec.build_from_file is None:
        raise UsageError(f"feature extractor {spec.name!r} ships its own weights and takes no weights file.")
    else:
        module = spec.build_from_file(Path(weights))
    return spec.name, module.eval().requires_grad_(False)


@dataclass(frozen=True)
class InputConversions:
    """What an extractor does to a set of images before its network sees them, and why they may not suit it.

    A metric never changes the images it is given without saying so: every score carries these lines.
    """

    conversions: tuple[str, ...] = ()  # "channels: ...", "size: ...", "range: ..." (one line each)
    warnings: tuple[str, ...] = ()  # the images are not what the extractor was made for

    @property
    def changes_images(self) -> tuple[str, ...]:
        """The conversions that change what the images show (channels, size), not only their number range."""
        return tuple(line for line in self.conversions if not line.startswith("range:"))


def describe_input(extractor: nn.Module, images: torch.Tensor, name: str) -> InputConversions:
    """``extractor``'s own account of what it does to uint8 ``images`` (N, C, H, W), or a line saying it has none."""
    describe = getattr(extractor, "describe_input", None)
    if describe is None:
        return InputConversions((f"unknown: extractor {name!r} does not say how it converts its input",))
    return describe(images)


def resize_line(height: int, width: int, side: int, how: str) -> str | None:
    """"size: HxW -> SxS (how)", or None when the images already have the size."""
    return None if (height, width) == (side, side) else f"size: {height}x{width} -> {side}x{side} ({how})"


def is_colour(images: torch.Tensor) -> bool:
    """Whether 3-channel uint8 ``images`` differ between channels anywhere (not grayscale stored as RGB)."""
    return images.shape[1] == 3 and not bool(
        (images[:, 0] == images[:, 1]).all() and (images[:, 1] == images[:, 2]).all()
    )
