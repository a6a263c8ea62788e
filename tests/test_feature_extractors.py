"""The feature-extractor registry, lenet-mnist (accuracy, input handling, verified and safe loading) and the
inception extractor's weights-file logic (its weights cannot be downloaded here)."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

import ganzoo
from ganzoo.checkpoint import file_sha256
from ganzoo.errors import CheckpointError, GanzooError, UnknownNameError, UsageError
from ganzoo.metrics import inception
from ganzoo.metrics.extractors import build_feature_extractor
from ganzoo.metrics.fid import FidEvaluator
from ganzoo.metrics.lenet import NUM_FEATURES, WEIGHTS_FILE, accuracy, load_lenet_mnist

MARKER_ENV = "GANZOO_TEST_MARKER"


@pytest.fixture(scope="module")
def lenet():
    return load_lenet_mnist()


@pytest.fixture(scope="module")
def test_split():
    return ganzoo.load_dataset("mnist-10k:test")


def test_both_built_in_extractors_are_registered_with_their_aliases():
    registry = ganzoo.zoo().feature_extractors
    assert {"lenet-mnist", "inception"} <= set(registry.names())
    assert registry.get("lenet").name == "lenet-mnist"
    with pytest.raises(UnknownNameError, match="Did you mean 'lenet-mnist'"):
        registry.get("lenet-mnst")


def test_lenet_mnist_classifies_the_test_split(lenet, test_split):
    torch.set_num_threads(1)
    assert accuracy(lenet, test_split.images, test_split.labels) >= 0.985


def test_the_shipped_weights_are_small_and_a_plain_state_dict():
    assert WEIGHTS_FILE.stat().st_size <= 2 * 1024 * 1024
    state = torch.load(WEIGHTS_FILE, weights_only=True)
    assert all(isinstance(value, torch.Tensor) for value in state.values())


def test_features_are_pre_activation_and_of_full_rank(lenet, test_split):
    with torch.inference_mode():
        features = lenet(test_split.images[:2000]).double()
    assert features.shape == (2000, NUM_FEATURES)
    assert (features < 0).any(dim=0).all()  # no ReLU in front: every feature takes negative values
    assert torch.linalg.matrix_rank(torch.cov(features.T)) == NUM_FEATURES


def test_built_extractor_is_in_eval_mode_and_records_its_weights_hash():
    name, module = build_feature_extractor("lenet")
    assert name == "lenet-mnist" and not module.training
    assert module.weights_sha256 == "sha256:" + file_sha256(WEIGHTS_FILE)
    assert module.num_features == NUM_FEATURES


def test_rgb_and_other_sizes_are_converted(lenet, test_split):
    gray = test_split.images[:8]
    with torch.inference_mode():
        expected = lenet(gray)
        rgb = lenet(gray.expand(-1, 3, -1, -1))
        larger = lenet(torch.nn.functional.interpolate(gray.float(), size=(32, 32)).round().to(torch.uint8))
    assert torch.allclose(rgb, expected, atol=1e-4)  # the luma weights sum to one
    assert larger.shape == expected.shape and torch.isfinite(larger).all()


@pytest.mark.parametrize(
    "images, message",
    [
        (torch.zeros(2, 1, 28, 28), "uint8"),
        (torch.zeros(2, 28, 28, dtype=torch.uint8), "uint8"),
        (torch.zeros(2, 2, 28, 28, dtype=torch.uint8), "1- or 3-channel"),
    ],
)
def test_unsuitable_images_are_refused_clearly(lenet, images, message):
    with pytest.raises(UsageError, match=message):
        lenet(images)


def test_weights_with_a_different_hash_are_refused(tmp_path):
    tampered = tmp_path / "lenet_mnist.pt"
    state = torch.load(WEIGHTS_FILE, weights_only=True)
    state["classifier.bias"] = state["classifier.bias"] + 1
    torch.save(state, tampered)
    with pytest.raises(CheckpointError, match="sha256"):
        load_lenet_mnist(tampered)
    with pytest.raises(CheckpointError, match="missing"):
        load_lenet_mnist(tmp_path / "absent.pt")


class _RunsCodeWhenUnpickled:
    def __reduce__(self):
        import os

        return (os.mkdir, (os.environ[MARKER_ENV],))


@pytest.mark.parametrize("writer", ["pickle", "torch.save"])
def test_a_malicious_pickle_at_the_weights_path_is_refused_without_running_it(tmp_path, monkeypatch, writer):
    marker = tmp_path / "code-ran"
    monkeypatch.setenv(MARKER_ENV, str(marker))
    weights = tmp_path / "lenet_mnist.pt"
    payload = {"feature_layer.weight": _RunsCodeWhenUnpickled()}
    if writer == "pickle":
        weights.write_bytes(pickle.dumps(payload, protocol=2))
    else:
        torch.save(payload, weights)
    with pytest.raises(CheckpointError, match="sha256"):
        load_lenet_mnist(weights)
    # Even with a matching hash (a replaced hash constant), weights_only loading refuses the object.
    with pytest.raises(CheckpointError, match="not a plain state dict"):
        load_lenet_mnist(weights, expected_sha256=file_sha256(weights))
    assert not marker.exists()


def test_inception_without_weights_says_how_to_provide_them(monkeypatch):
    monkeypatch.delenv(inception.WEIGHTS_ENV, raising=False)
    with pytest.raises(UsageError, match=f"--inception-weights PATH or {inception.WEIGHTS_ENV}"):
        build_feature_extractor("inception")


def test_inception_with_a_missing_weights_file_is_a_usage_error(monkeypatch, tmp_path):
    monkeypatch.setenv(inception.WEIGHTS_ENV, str(tmp_path / "absent.pth"))
    with pytest.raises(UsageError, match="no inception weights file"):
        build_feature_extractor("inception")


def test_inception_without_torch_fidelity_says_how_to_install_it(monkeypatch, tmp_path):
    weights = tmp_path / "inception.pth"
    weights.write_bytes(b"weights")
    monkeypatch.setattr(inception, "torch_fidelity_installed", lambda: False)
    with pytest.raises(GanzooError, match="pip install torch-fidelity"):
        build_feature_extractor("inception", weights)


class _FakeInception(torch.nn.Module):
    def __init__(self, weights: Path) -> None:
        super().__init__()
        self.weights = weights
        self.seen_shapes: list[tuple[int, ...]] = []
        self.fc = torch.nn.Linear(6, 5)  # torch-fidelity's classifier layer: the Inception Score's logits

    def forward(self, images):
        self.seen_shapes.append(tuple(images.shape))
        return images.float().mean(dim=(2, 3)).repeat(1, 2)


@pytest.fixture
def fake_inception(monkeypatch):
    monkeypatch.setattr(inception, "torch_fidelity_installed", lambda: True)
    monkeypatch.setattr(inception, "inception_network", _FakeInception)


def test_inception_weights_come_from_the_option_before_the_environment(fake_inception, monkeypatch, tmp_path):
    from_env, from_option = tmp_path / "env.pth", tmp_path / "option.pth"
    from_env.write_bytes(b"env")
    from_option.write_bytes(b"option")
    monkeypatch.setenv(inception.WEIGHTS_ENV, str(from_env))
    _, module = build_feature_extractor("inception")
    assert module.network.weights == from_env
    _, module = build_feature_extractor("inception", from_option)
    assert module.network.weights == from_option
    assert module.weights_sha256 == "sha256:" + file_sha256(from_option)


def test_inception_gets_three_channels_and_feeds_fid(fake_inception, test_split, tmp_path):
    weights = tmp_path / "inception.pth"
    weights.write_bytes(b"w")
    evaluator = FidEvaluator(test_split.images[:120], "inception", weights=weights, kid_subsets=2)
    assert {shape[1] for shape in evaluator.extractor.network.seen_shapes} == {3}
    assert max(shape[0] for shape in evaluator.extractor.network.seen_shapes) <= 50  # its max_batch_size
    result = evaluator.evaluate(test_split.images[120:170])
    assert result.extractor == "inception" and result.extractor_sha256 == "sha256:" + file_sha256(weights)
    assert result.classifier_score.name == "Inception Score" and result.classifier_score.splits == 10
    assert "channels: grayscale repeated to RGB" in result.fake_conversions
    assert any(line.startswith("size: 28x28 -> 299x299") for line in result.fake_conversions)


def test_a_weights_file_for_an_extractor_that_ships_its_own_is_refused(tmp_path):
    with pytest.raises(UsageError, match="ships its own weights"):
        build_feature_extractor("lenet-mnist", tmp_path / "x.pt")
