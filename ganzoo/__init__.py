"""ganzoo: a GAN zoo built as a plugin registry.

The public API is what ``__all__`` lists; plugins import nothing else. Importing ganzoo loads no plugin:
plugins are discovered on the first registry access.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

from ganzoo.datasets.base import (
    Availability,
    DatasetOptions,
    DatasetSource,
    ImageDataset,
    load_dataset,
    to_uint8,
)
from ganzoo.errors import CheckpointError, DatasetError, GanzooError, PluginError, UsageError
from ganzoo.hookspecs import hookimpl
from ganzoo.interfaces import Discriminator, Generator, ImageShape
from ganzoo.losses import Loss, Penalty
from ganzoo.metrics.extractors import FeatureExtractorSpec
from ganzoo.registry import zoo
from ganzoo.spec import Hyperparameters, ModelSpec

# Heavier parts load on first use, so `import ganzoo` in a plugin stays cheap.
_LAZY = {
    "TrainConfig": "ganzoo.engine",
    "Trainer": "ganzoo.engine",
    "Run": "ganzoo.engine",
    "train": "ganzoo.engine",
    "load_generator": "ganzoo.checkpoint",
    "FidEvaluator": "ganzoo.metrics.fid",
    "FidResult": "ganzoo.metrics.fid",
    "compute_fid_kid": "ganzoo.metrics.fid",
    "sample_uint8": "ganzoo.metrics.fid",
    "BenchConfig": "ganzoo.bench",
    "run_benchmark": "ganzoo.bench",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'ganzoo' has no attribute {name!r}")


def get_model(name: str) -> ModelSpec:
    """The registered model spec called ``name`` (or one of its aliases)."""
    return zoo().models.get(name)


__all__ = [
    "Availability",
    "BenchConfig",
    "CheckpointError",
    "DatasetError",
    "DatasetOptions",
    "DatasetSource",
    "Discriminator",
    "FeatureExtractorSpec",
    "FidEvaluator",
    "FidResult",
    "GanzooError",
    "Generator",
    "Hyperparameters",
    "ImageDataset",
    "ImageShape",
    "Loss",
    "ModelSpec",
    "Penalty",
    "PluginError",
    "Run",
    "TrainConfig",
    "Trainer",
    "UsageError",
    "__version__",
    "compute_fid_kid",
    "get_model",
    "hookimpl",
    "load_dataset",
    "load_generator",
    "run_benchmark",
    "sample_uint8",
    "to_uint8",
    "train",
    "zoo",
]
