"""FID of 10,000 generated against 10,000 real images with the lenet-mnist features: the whole evaluation
and its parts (feature extraction, the Fréchet distance, KID), so the share of each is visible."""

from __future__ import annotations

import pytest
import torch
from torchmetrics.image.kid import KernelInceptionDistance

from benchmarks.harness import dataset, frechet_distance
from ganzoo.metrics.fid import FeaturePassThrough, FidEvaluator

N_IMAGES = 10_000
ROUNDS = 3


@pytest.fixture(scope="module")
def image_sets():
    """10,000 real (mnist-10k:test) and 10,000 stand-in generated images (mnist-10k:train): the cost does
    not depend on what the images show."""
    return dataset("mnist-10k:test").images[:N_IMAGES], dataset("mnist-10k:train").images[:N_IMAGES]


@pytest.fixture(scope="module")
def evaluator(image_sets):
    real, _ = image_sets
    return FidEvaluator(real, "lenet-mnist")


def kernel_distance(real_features: torch.Tensor, fake_features: torch.Tensor) -> float:
    metric = KernelInceptionDistance(feature=FeaturePassThrough(real_features.shape[1]), subset_size=1000)
    metric.update(real_features, real=True)
    metric.update(fake_features, real=False)
    return float(metric.compute()[0])


@pytest.mark.benchmark(group="fid-10k")
def test_fid_total(benchmark, image_sets, record_median):
    """Everything a cold evaluation does: real features and statistics, fake features, FID and KID."""
    real, fake = image_sets
    result = benchmark.pedantic(lambda: FidEvaluator(real, "lenet-mnist").evaluate(fake), rounds=ROUNDS)
    assert result.n_real == result.n_fake == N_IMAGES and result.fid >= 0
    record_median("fid-total", "lenet-mnist", benchmark)


@pytest.mark.benchmark(group="fid-10k")
def test_fid_evaluate_fake_set(benchmark, evaluator, image_sets, record_median):
    """What each evaluation during training costs: the real statistics are kept by the evaluator."""
    _, fake = image_sets
    result = benchmark.pedantic(evaluator.evaluate, args=(fake,), rounds=ROUNDS)
    assert result.fid >= 0
    record_median("fid-evaluate", "lenet-mnist", benchmark)


@pytest.mark.benchmark(group="fid-10k")
def test_feature_extraction(benchmark, evaluator, image_sets, record_median):
    _, fake = image_sets
    features = benchmark.pedantic(evaluator.features, args=(fake,), rounds=ROUNDS)
    assert features.shape == (N_IMAGES, evaluator.num_features)
    record_median("fid-features", "lenet-mnist", benchmark)


@pytest.mark.benchmark(group="fid-10k")
def test_frechet_distance_part(benchmark, evaluator, image_sets, record_median):
    """Means, covariances (float64) and the matrix square root of 10,000 + 10,000 feature vectors."""
    _, fake = image_sets
    fake_features = evaluator.features(fake)
    fid = benchmark.pedantic(frechet_distance, args=(evaluator.real_features, fake_features), rounds=ROUNDS)
    assert fid == pytest.approx(evaluator.evaluate_features(fake_features).fid, rel=1e-6)
    record_median("fid-frechet", "lenet-mnist", benchmark)


@pytest.mark.filterwarnings("ignore:.*will save all extracted features")
@pytest.mark.benchmark(group="fid-10k")
def test_kid_part(benchmark, evaluator, image_sets, record_median):
    """KID beside FID (100 subsets of 1,000, torchmetrics' defaults): part of every evaluate()."""
    _, fake = image_sets
    fake_features = evaluator.features(fake)
    benchmark.pedantic(kernel_distance, args=(evaluator.real_features, fake_features), rounds=ROUNDS)
    record_median("fid-kid", "lenet-mnist", benchmark)
