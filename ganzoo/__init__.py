"""ganzoo: a GAN zoo built as a plugin registry.

The public API is what ``__all__`` lists; plugins import nothing else. Every name is imported on first use
(PEP 562), so ``import ganzoo`` costs next to nothing: ``ganzoo --help`` and ``ganzoo.__version__`` load no
torch, and ``ganzoo.hookimpl`` only pluggy. Importing ganzoo loads no plugin: plugins are discovered on the
first registry access.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time __getattr__ imports each on first use
    from ganzoo.augment import Augmentation
    from ganzoo.bench import BenchConfig, run_benchmark
    from ganzoo.checkpoint import load_generator
    from ganzoo.datasets.base import (
        Availability,
        DatasetOptions,
        DatasetSource,
        ImageDataset,
        load_dataset,
        to_uint8,
    )
    from ganzoo.engine import Run, TrainConfig, Trainer, train
    from ganzoo.errors import CheckpointError, DatasetError, GanzooError, PluginError, UsageError
    from ganzoo.hookspecs import hookimpl
    from ganzoo.interfaces import Discriminator, Generator, ImageShape
    from ganzoo.losses import Loss, Penalty
    from ganzoo.metrics.extractors import FeatureExtractorSpec
    from ganzoo.metrics.fid import FidEvaluator, FidResult, compute_fid_kid, sample_uint8
    from ganzoo.registry import zoo
    from ganzoo.spec import Hyperparameters, ModelSpec

# Public name -> the module that defines it. tests/test_startup.py checks that this, __all__ and the
# TYPE_CHECKING imports above agree.
_LAZY = {
    "Augmentation": "ganzoo.augment",
    "Availability": "ganzoo.datasets.base",
    "DatasetOptions": "ganzoo.datasets.base",
    "DatasetSource": "ganzoo.datasets.base",
    "ImageDataset": "ganzoo.datasets.base",
    "load_dataset": "ganzoo.datasets.base",
    "to_uint8": "ganzoo.datasets.base",
    "CheckpointError": "ganzoo.errors",
    "DatasetError": "ganzoo.errors",
    "GanzooError": "ganzoo.errors",
    "PluginError": "ganzoo.errors",
    "UsageError": "ganzoo.errors",
    "hookimpl": "ganzoo.hookspecs",
    "Discriminator": "ganzoo.interfaces",
    "Generator": "ganzoo.interfaces",
    "ImageShape": "ganzoo.interfaces",
    "Loss": "ganzoo.losses",
    "Penalty": "ganzoo.losses",
    "FeatureExtractorSpec": "ganzoo.metrics.extractors",
    "zoo": "ganzoo.registry",
    "Hyperparameters": "ganzoo.spec",
    "ModelSpec": "ganzoo.spec",
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
    if name not in _LAZY:
        raise AttributeError(f"module 'ganzoo' has no attribute {name!r}")
    value = getattr(import_module(_LAZY[name]), name)
    globals()[name] = value  # the next access is an ordinary attribute lookup
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


def get_model(name: str) -> ModelSpec:
    """The registered model spec called ``name`` (or one of its aliases)."""
    from ganzoo.registry import zoo

    return zoo().models.get(name)


__all__ = [
    "Augmentation",
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
