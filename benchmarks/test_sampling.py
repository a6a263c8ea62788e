"""Generator sampling throughput (images per second) of each built-in model's EMA generator in eval mode,
drawn as evaluations draw them (ganzoo.metrics.fid.sample_uint8: uint8 images on the CPU)."""

from __future__ import annotations

import pytest
import torch

from benchmarks.harness import BUILTIN_MODELS, measuring_trainer
from ganzoo.metrics.fid import sample_uint8

N_SAMPLES = 2000


@pytest.mark.parametrize("model", BUILTIN_MODELS)
@pytest.mark.benchmark(group="sampling")
def test_sampling_throughput(benchmark, model, tmp_path, record_throughput):
    G = measuring_trainer(model, tmp_path).sampling_generator()
    images = benchmark.pedantic(
        lambda: sample_uint8(G, N_SAMPLES, generator=torch.Generator().manual_seed(0)),
        rounds=3,
        warmup_rounds=1,
    )
    assert images.dtype == torch.uint8 and images.shape == (N_SAMPLES, *G.image_shape)
    record_throughput(model, N_SAMPLES, benchmark)
