"""FID of 10,000 generated against 10,000 real images with the lenet-mnist features: the whole evaluation
and its parts (feature extraction, the Fréchet distance), and KID beside it, so the share of each shows."""

from __future__ import annotations

import pytest

from benchmarks.harness import dataset
from ganzoo.metrics.fid import FidEvaluator

N_IMAGES = 10_000
ROUNDS = 3


@pytest.fixture(scope="module")
def image_sets():
    """10,000 real (mnist-10k:test) and 10,000 stand-in generated images (mnist-10k:train): the cost does
    not depend on what the images show."""
    return dataset("mnist-10k:test").images[:N_IMAGES], dataset("mnist-10k:train").images[:N_IMAGES]


@pytest.fixture(scope="module")
def evaluator(image_sets):
    """FID only (kid_subsets=0), as evaluations during training use it."""
    real, _ = image_sets
    return FidEvaluator(real, "lenet-mnist", kid_subsets=0, manifold=False, classifier=False)


@pytest.mark.benchmark(group="fid-10k")
def test_fid_cold(benchmark, image_sets, record_median):
    """Everything one cold FID does: real features and statistics, fake features, the distance."""
    real, fake = image_sets
    result = benchmark.pedantic(
        lambda: FidEvaluator(real, "lenet-mnist", kid_subsets=0, manifold=False, classifier=False).evaluate(fake),
        rounds=ROUNDS,
    )
    assert result.n_real == result.n_fake == N_IMAGES and result.fid >= 0
    record_median("fid-cold", "lenet-mnist", benchmark)


@pytest.mark.benchmark(group="fid-10k")
def test_fid_evaluate_fake_set(benchmark, evaluator, image_sets, record_median):
    """What each evaluation during training costs: the evaluator keeps the real statistics."""
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
    """Means, covariances (float64) and the matrix square root from 10,000 fake feature vectors."""
    _, fake = image_sets
    fake_features = evaluator.features(fake)
    result = benchmark.pedantic(evaluator.evaluate_features, args=(fake_features,), rounds=ROUNDS)
    assert result.fid == pytest.approx(evaluator.evaluate(fake).fid, rel=1e-9)
    record_median("fid-frechet", "lenet-mnist", benchmark)


@pytest.mark.benchmark(group="fid-10k")
def test_fid_and_kid_from_features(benchmark, image_sets, record_median):
    """FID with KID beside it (torchmetrics' default 100 subsets of 1,000), from extracted features."""
    real, fake = image_sets
    with_kid = FidEvaluator(real, "lenet-mnist", manifold=False, classifier=False)
    fake_features = with_kid.features(fake)
    result = benchmark.pedantic(with_kid.evaluate_features, args=(fake_features,), rounds=ROUNDS)
    assert result.kid_subsets == 100
    record_median("fid-kid", "lenet-mnist", benchmark)


@pytest.mark.benchmark(group="fid-10k")
def test_precision_recall_density_coverage_from_features(benchmark, image_sets, record_median):
    """Precision/recall (k=3) and density/coverage (k=5) of 10,000 against 10,000 features, the real radii
    computed once beforehand (as every evaluation after the first finds them); compare with fid-features."""
    from ganzoo.metrics.manifold import ManifoldReference

    real, fake = image_sets
    evaluator = FidEvaluator(real, "lenet-mnist", kid_subsets=0, classifier=False)
    reference = ManifoldReference(evaluator.real_features)
    fake_features = evaluator.features(fake)
    scores = benchmark.pedantic(reference.score, args=(fake_features,), rounds=ROUNDS)
    assert 0 <= scores.precision <= 1 and 0 <= scores.coverage <= 1
    record_median("manifold", "lenet-mnist", benchmark)
