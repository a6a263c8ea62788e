"""FID and KID through torchmetrics: numerical care (identical sets, a scipy cross-check, no NaN or complex
value), the properties a distance between image sets must have, and the evaluator's caching."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch
from torch import nn

import ganzoo
from ganzoo.errors import GanzooError, UsageError
from ganzoo.interfaces import Generator
from ganzoo.metrics.fid import FidEvaluator, compute_fid_kid, extract_features, finite_scalar, sample_uint8
from ganzoo.metrics.references import gaussian_blur, reference_images
from ganzoo.metrics.sources import random_subset

N = 1000  # per set: enough for stable orderings, small enough for a fast suite
FEW_SUBSETS = 10  # KID subsets where the test is about FID


@pytest.fixture(scope="module")
def mnist():
    torch.set_num_threads(1)
    return ganzoo.load_dataset("mnist-10k:train"), ganzoo.load_dataset("mnist-10k:test")


@pytest.fixture(scope="module")
def evaluator(mnist):
    train, _ = mnist
    return FidEvaluator(random_subset(train.images, N, 0, "train"), kid_subsets=FEW_SUBSETS)


@pytest.fixture(scope="module")
def test_images(mnist):
    _, test = mnist
    return random_subset(test.images, N, 1, "test")


def test_identical_image_sets_have_fid_zero(evaluator, mnist):
    train, _ = mnist
    result = evaluator.evaluate(random_subset(train.images, N, 0, "train"))
    assert abs(result.fid) < 1e-6


def test_fid_agrees_with_an_independent_scipy_computation(evaluator, test_images):
    fake_features = evaluator.features(test_images)
    ours = evaluator.evaluate_features(fake_features).fid

    real = evaluator.real_features.double().numpy()
    fake = fake_features.double().numpy()
    mean_real, mean_fake = real.mean(axis=0), fake.mean(axis=0)
    cov_real, cov_fake = np.cov(real, rowvar=False), np.cov(fake, rowvar=False)
    root = scipy.linalg.sqrtm(cov_real @ cov_fake)
    root = root.real if np.iscomplexobj(root) else root
    reference = float(((mean_real - mean_fake) ** 2).sum() + np.trace(cov_real + cov_fake - 2 * root))

    assert ours == pytest.approx(reference, rel=1e-6)


def test_fid_grows_with_the_noise_added_to_real_images(evaluator, test_images):
    noise = torch.randn(test_images.shape, generator=torch.Generator().manual_seed(0))
    fids = []
    for std in (0, 24, 48, 96, 192):
        noisy = (test_images.float() + std * noise).round().clamp(0, 255).to(torch.uint8)
        fids.append(evaluator.evaluate(noisy).fid)
    assert fids == sorted(fids) and len(set(fids)) == len(fids), fids


def test_dropping_half_of_the_classes_raises_fid(evaluator, mnist):
    _, test = mnist
    all_classes = random_subset(test.images, N, 1, "test")
    five_classes = random_subset(test.images[test.labels < 5], N, 1, "test 0-4")
    assert evaluator.evaluate(five_classes).fid > 5 * evaluator.evaluate(all_classes).fid


def test_blurred_digits_score_between_the_floor_and_noise(evaluator, test_images):
    results = {
        name: evaluator.evaluate(images).fid
        for name, images in reference_images(
            test_images, None, names=("floor", "blurred", "uniform_noise")
        ).items()
    }
    assert results["floor"] < results["blurred"] < results["uniform_noise"]


def test_gaussian_blur_keeps_the_total_intensity_and_shape():
    image = torch.zeros(1, 1, 9, 9, dtype=torch.uint8)
    image[0, 0, 4, 4] = 255
    blurred = gaussian_blur(image, sigma=1.0)
    assert blurred.shape == image.shape and blurred.dtype == torch.uint8
    assert blurred[0, 0, 4, 4] < 255 and blurred[0, 0, 4, 5] > 0
    assert abs(int(blurred.sum()) - 255) <= 20  # rounding of 49 pixels
    assert torch.equal(blurred[0, 0], blurred[0, 0].T)  # the kernel is symmetric


def test_the_result_carries_its_provenance(evaluator, test_images):
    result = evaluator.evaluate(test_images)
    assert (result.n_real, result.n_fake, result.extractor) == (N, N, "lenet-mnist")
    assert result.extractor_sha256.startswith("sha256:") and result.num_features == 128
    assert result.as_dict()["fid"] == result.fid


def test_the_evaluator_keeps_the_real_statistics_between_evaluations(evaluator, mnist, test_images):
    train, _ = mnist
    first = evaluator.evaluate(test_images)
    evaluator.evaluate(random_subset(train.images, 500, 5, "train"))
    again = evaluator.evaluate(test_images)
    assert again.fid == first.fid and again.kid_mean == first.kid_mean


def test_compute_fid_kid_matches_the_evaluator(mnist, evaluator, test_images):
    train, _ = mnist
    real = random_subset(train.images, N, 0, "train")
    result = compute_fid_kid(real, test_images, kid_subsets=FEW_SUBSETS)
    assert result.fid == pytest.approx(evaluator.evaluate(test_images).fid, rel=1e-9)


def test_kid_is_reproducible_and_leaves_the_global_generator_alone(evaluator, test_images):
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    first = evaluator.evaluate(test_images)
    assert torch.equal(torch.rand(1), expected_next)
    assert evaluator.evaluate(test_images).kid_mean == first.kid_mean
    assert first.kid_std is None and first.kid_sem is None  # N = the subset size: every subset is the whole set


def test_fewer_than_two_images_is_a_usage_error(evaluator, test_images):
    with pytest.raises(UsageError, match="at least 2"):
        evaluator.evaluate(test_images[:1])
    with pytest.raises(UsageError, match="at least 2"):
        FidEvaluator(test_images[:1])


def test_a_set_smaller_than_the_kid_subsets_shrinks_them_and_says_so(evaluator, test_images):
    result = evaluator.evaluate(test_images[:200])
    assert result.kid_subset_size == 200
    assert any("shrunk from 1000 to 200" in note for note in result.notes)
    assert any("fewer images than features" in note for note in evaluator.evaluate(test_images[:100]).notes)


def test_images_that_are_not_uint8_nchw_are_refused(evaluator, test_images):
    with pytest.raises(UsageError, match="uint8"):
        evaluator.evaluate(test_images.float())
    with pytest.raises(UsageError, match="uint8"):
        evaluator.evaluate(test_images[:, 0])


class _Constant(nn.Module):
    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def forward(self, images):
        return torch.full((len(images), 4), self.value)


def test_non_finite_features_are_a_clear_error(test_images):
    with pytest.raises(GanzooError, match="non-finite"):
        extract_features(_Constant(float("nan")), test_images[:10])


@pytest.mark.parametrize(
    "value", [torch.tensor(float("nan")), torch.tensor(float("inf")), torch.tensor(3.0 + 2.0j)]
)
def test_no_nan_infinite_or_complex_score_leaks_out(value):
    with pytest.raises(GanzooError, match="FID"):
        finite_scalar(value, "FID")


def test_a_complex_score_with_a_negligible_imaginary_part_is_its_real_part():
    assert finite_scalar(torch.tensor(3.0 + 1e-12j, dtype=torch.complex128), "FID") == 3.0


class _BatchNormGenerator(Generator):
    def __init__(self) -> None:
        super().__init__(latent_dim=4, image_shape=(1, 2, 2))
        self.layers = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Tanh())

    def forward(self, z):
        return self.layers(z).view(-1, 1, 2, 2)


def test_sample_uint8_draws_in_eval_mode_in_batches_and_restores_the_mode():
    torch.manual_seed(0)
    G = _BatchNormGenerator()
    G.layers[1].running_mean.fill_(0.5)  # eval and train mode give different images
    G.train()
    images = sample_uint8(G, 10, seed=3, batch_size=4)
    assert images.shape == (10, 1, 2, 2) and images.dtype == torch.uint8
    assert G.training
    G.eval()
    with torch.no_grad():
        expected = ganzoo.datasets.base.to_uint8(
            G(G.sample_latent(10, generator=torch.Generator().manual_seed(3)))
        )
    assert torch.equal(images, expected)
    assert torch.equal(sample_uint8(G, 10, seed=3), images)
    with pytest.raises(UsageError):
        sample_uint8(G, 0)


def test_kid_can_be_skipped_without_changing_fid(mnist, evaluator, test_images):
    train, _ = mnist
    without_kid = FidEvaluator(random_subset(train.images, N, 0, "train"), kid_subsets=0).evaluate(
        test_images
    )
    assert without_kid.kid_mean is None and without_kid.kid_std is None and without_kid.kid_subsets == 0
    assert without_kid.fid == evaluator.evaluate(test_images).fid
    with pytest.raises(UsageError, match="0 subsets to skip KID"):
        FidEvaluator(test_images, kid_subsets=-1)
