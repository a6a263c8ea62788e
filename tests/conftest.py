"""Shared fixtures: a fresh plugin registry per test that changes plugins, and the shared MNIST files."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
import torch

from ganzoo import registry
from ganzoo.engine.precision import CACHE_ENV
from ganzoo.metrics.reference_cache import CACHE_ENV as REFERENCE_CACHE_ENV

SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"

torch.set_num_threads(2)

# One precision decision per model configuration for the whole session, subprocesses included, so that runs
# compared bit for bit were trained in the same precision (ganzoo.engine.precision).
os.environ[CACHE_ENV] = os.path.join(tempfile.mkdtemp(prefix="ganzoo-precision-"), "precision.json")
# Reference features that the metrics cache go to a temporary directory, not the user's ~/.cache.
os.environ[REFERENCE_CACHE_ENV] = tempfile.mkdtemp(prefix="ganzoo-reference-features-")


@pytest.fixture
def fresh_zoo(monkeypatch):
    """Reload plugins from scratch for this test and again after it (tests may change the environment)."""
    registry.reset()
    yield registry
    registry.reset()


@pytest.fixture
def shared_mnist() -> Path:
    if not (SHARED_MNIST / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip("../shared/data/mnist is not on this machine")
    return SHARED_MNIST
