"""Precision, recall, density and coverage: equal to the authors' prdc package and to a plain numpy
transcription of the definitions, independent of the chunking, and telling fidelity from diversity on MNIST."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
import torch

import ganzoo
from ganzoo.errors import UsageError
from ganzoo.metrics.fid import FidEvaluator
from ganzoo.metrics.manifold import ManifoldReference, manifold_scores, nearest_neighbour_radii
from ganzoo.metrics.references import gaussian_blur, uniform_noise
from ganzoo.metrics.sources import random_subset


def numpy_reference(real: np.ndarray, fake: np.ndarray, k: int) -> dict[str, float]:
    """The definitions of Kynkäänniemi et al. and Naeem et al., written out over full distance matrices."""

    def distances(a, b):
        return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))

    real_radii = np.sort(distances(real, real), axis=1)[:, k]  # column 0 is the point itself
    fake_radii = np.sort(distances(fake, fake), axis=1)[:, k]
    cross = distances(real, fake)  # (real, fake)
    inside = cross < real_radii[:, None]
    return {
        "precision": inside.any(axis=0).mean(),
        "recall": (cross < fake_radii[None, :]).any(axis=1).mean(),
        "density": inside.sum() / (k * fake.shape[0]),
        "coverage": (cross.min(axis=1) < real_radii).mean(),
    }


def feature_sets(seed: int, n_real: int, n_fake: int, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    real = torch.randn(n_real, dim, generator=generator, dtype=torch.float64)
    fake = 1.3 * torch.randn(n_fake, dim, generator=generator, dtype=torch.float64) + 0.4
    return real.float(), fake.float()


@pytest.mark.parametrize("seed, n_real, n_fake, dim", [(0, 300, 200, 8), (1, 150, 400, 32), (2, 257, 257, 3)])
def test_scores_equal_a_numpy_transcription_of_the_definitions(seed, n_real, n_fake, dim):
    real, fake = feature_sets(seed, n_real, n_fake, dim)
    ours = manifold_scores(real, fake, chunk_rows=64)
    for k, names in ((3, ("precision", "recall")), (5, ("density", "coverage"))):
        expected = numpy_reference(real.double().numpy(), fake.double().numpy(), k)
        for name in names:
            assert getattr(ours, name) == pytest.approx(expected[name], abs=1.5 / min(n_real, n_fake)), name


@pytest.mark.parametrize("seed, n_real, n_fake, dim", [(3, 500, 400, 16), (4, 333, 600, 64)])
def test_scores_equal_the_prdc_package(seed, n_real, n_fake, dim):
    prdc = pytest.importorskip("prdc")
    real, fake = feature_sets(seed, n_real, n_fake, dim)
    with contextlib.redirect_stdout(io.StringIO()):  # prdc prints the set sizes
        with_3 = prdc.compute_prdc(real.numpy(), fake.numpy(), nearest_k=3)
        with_5 = prdc.compute_prdc(real.numpy(), fake.numpy(), nearest_k=5)
    ours = manifold_scores(real, fake)
    tolerance = 1.5 / min(n_real, n_fake)  # float32 distances may flip a point lying on a ball's surface
    assert ours.precision == pytest.approx(with_3["precision"], abs=tolerance)
    assert ours.recall == pytest.approx(with_3["recall"], abs=tolerance)
    assert ours.density == pytest.approx(with_5["density"], abs=tolerance)
    assert ours.coverage == pytest.approx(with_5["coverage"], abs=tolerance)


def test_the_chunk_size_does_not_change_the_scores():
    real, fake = feature_sets(5, 400, 300, 10)
    reference = manifold_scores(real, fake, chunk_rows=4096)
    for chunk in (1, 7, 128):
        assert manifold_scores(real, fake, chunk_rows=chunk) == reference


def test_radii_exclude_the_point_itself():
    points = torch.tensor([[0.0], [1.0], [3.0], [7.0]])
    assert nearest_neighbour_radii(points, (1, 2))[1].tolist() == [1.0, 1.0, 2.0, 4.0]
    assert nearest_neighbour_radii(points, (1, 2))[2].tolist() == [3.0, 2.0, 3.0, 6.0]


def test_a_set_with_no_more_points_than_k_is_a_usage_error():
    real, fake = feature_sets(6, 100, 5, 4)
    with pytest.raises(UsageError, match="more than 3"):
        ManifoldReference(real).score(fake[:3])


def test_a_collapsed_set_keeps_precision_and_loses_recall_and_coverage():
    real, _ = feature_sets(7, 500, 1, 6)
    collapsed = real[:10].repeat(30, 1) + 1e-4 * torch.randn(
        300, 6, generator=torch.Generator().manual_seed(0)
    )
    scores = manifold_scores(real, collapsed)
    assert scores.precision > 0.95 and scores.recall < 0.1 and scores.coverage < 0.2


@pytest.fixture(scope="module")
def mnist_scores():
    train, test = ganzoo.load_dataset("mnist-10k:train"), ganzoo.load_dataset("mnist-10k:test")
    evaluator = FidEvaluator(random_subset(train.images, 2000, 0, "train"), kid_subsets=0)
    chosen = random_subset(torch.arange(len(test)), 2000, 1, "test")
    images, labels = test.images[chosen], test.labels[chosen]
    return {
        "floor": evaluator.evaluate(images),
        "five_classes": evaluator.evaluate(images[labels < 5]),
        "blurred": evaluator.evaluate(gaussian_blur(images)),
        "noise": evaluator.evaluate(uniform_noise(500, (1, 28, 28))),
    }


def test_on_mnist_half_of_the_classes_lose_recall_and_coverage_not_precision(mnist_scores):
    floor, half = mnist_scores["floor"], mnist_scores["five_classes"]
    assert floor.precision > 0.8 and floor.recall > 0.8 and 0.8 < floor.density < 1.2 and floor.coverage > 0.8
    assert half.precision > 0.8
    assert half.recall < 0.7 and half.coverage < 0.7


def test_on_mnist_blurred_digits_lose_recall_coverage_and_density(mnist_scores):
    floor, blurred = mnist_scores["floor"], mnist_scores["blurred"]
    assert blurred.recall < floor.recall / 2 and blurred.coverage < 0.7 * floor.coverage
    assert blurred.density < floor.density and blurred.precision < floor.precision


def test_on_mnist_noise_is_outside_every_real_ball(mnist_scores):
    noise = mnist_scores["noise"]
    assert noise.precision == noise.density == noise.coverage == 0.0
