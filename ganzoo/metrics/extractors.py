"""Feature extractors for FID and KID, registered by plugins and built lazily."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import nn


@dataclass(frozen=True)
class FeatureExtractorSpec:
    """A registered feature extractor: ``build()`` returns a module mapping uint8 images to (N, D) features."""

    name: str  # registry name, e.g. "lenet-mnist"
    summary: str  # one line for listings
    build: Callable[[], nn.Module]  # loads weights; called only when a metric needs it
    aliases: tuple[str, ...] = ()
