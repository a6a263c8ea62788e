"""Feature extractors for FID and KID, registered by plugins and built lazily."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from ganzoo.errors import UsageError


@dataclass(frozen=True)
class FeatureExtractorSpec:
    """A registered feature extractor: ``build()`` returns a module mapping uint8 images to (N, D) features.

    The module receives uint8 images (N, C, H, W) of any size and channel count the dataset has; it should
    convert them to what it needs. It may set ``num_features`` (D), ``weights_sha256`` ("sha256:...",
    recorded beside every score as the extractor's provenance) and ``max_batch_size`` (images per call).
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
