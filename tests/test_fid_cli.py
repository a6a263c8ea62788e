"""`ganzoo fid A B`: every kind of image source, the JSON and table outputs, and bad input that ends with a
one-line error (exit 2) and no traceback."""

from __future__ import annotations

import json
import math
import pickle

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import ganzoo
from ganzoo.cli import cli

SMALL = ["--kid-subsets", "5"]  # where a test is not about KID


def run(*args: str):
    return CliRunner().invoke(cli, ["fid", *args], prog_name="ganzoo")


def run_json(*args: str) -> dict:
    result = run(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    """200 test digits, (N, 28, 28) uint8."""
    return ganzoo.load_dataset("mnist-10k:test").images[:200, 0].numpy()


def test_fid_between_two_dataset_splits_as_json():
    data = run_json("mnist-10k:train", "mnist-10k:test", "--n", "2000")
    assert data["n_real"] == data["n_fake"] == 2000 == data["a"]["n"] == data["b"]["n"]
    assert data["extractor"] == "lenet-mnist" and data["extractor_sha256"].startswith("sha256:")
    assert math.isfinite(data["fid"]) and data["fid"] > 0
    assert math.isfinite(data["kid_mean"]) and data["kid_subsets"] == 100
    assert data["a"]["description"].startswith("mnist-10k:train (2000 of 10000")
    assert data["versions"]["torchmetrics"]


def test_the_table_shows_both_sources_and_the_scores():
    result = run("mnist-10k:train", "mnist-10k:test", "--n", "300", *SMALL)
    assert result.exit_code == 0, result.output
    assert "mnist-10k:test (300 of 10000 images)" in result.output
    assert "lenet-mnist" in result.output and "FID" in result.output
    assert "fewer images than features" not in result.output


def test_a_small_sample_is_scored_with_a_warning():
    result = run("mnist-10k:train", "mnist-10k:test", "--n", "100", *SMALL)
    assert result.exit_code == 0, result.output
    assert "KID subsets shrunk from 1000 to 100" in result.output
    assert "fewer images than features" in result.output


def test_npz_layouts_all_name_the_same_images(tmp_path, digits):
    np.savez(tmp_path / "nhw.npz", images=digits)
    np.savez(tmp_path / "nhwc.npz", images=digits[..., None])
    np.savez(tmp_path / "nchw.npz", images=digits[:, None])
    for other in ("nhwc.npz", "nchw.npz"):
        data = run_json(str(tmp_path / "nhw.npz"), str(tmp_path / other), *SMALL)
        assert abs(data["fid"]) < 1e-6 and data["n_real"] == 200


def test_a_folder_of_pngs_is_an_image_source(tmp_path, digits, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    folder = tmp_path / "pngs"
    folder.mkdir()
    for index, digit in enumerate(digits[:150]):  # more images than features: a full-rank covariance
        Image.fromarray(digit).save(folder / f"{index:03d}.png")
    np.savez(tmp_path / "same.npz", images=digits[:150])
    for source in (str(folder), f"folder:{folder}"):
        data = run_json(source, str(tmp_path / "same.npz"), "--image-size", "28", *SMALL)
        assert abs(data["fid"]) < 1e-6 and data["n_real"] == 150


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "dcgan"
    ganzoo.train(
        model="dcgan",
        steps=2,
        out=str(out),
        overrides=["generator_width=8", "discriminator_width=8"],
        batch_size=16,
        sample_every=0,
        checkpoint_every=2,
        log_every=1,
    )
    return out


def test_a_run_directory_and_a_checkpoint_are_sampled_from_their_ema_generator(run_dir):
    data = run_json("mnist-10k:test", str(run_dir), "--n", "200", *SMALL)
    assert data["n_fake"] == 200 and "dcgan's EMA generator in eval mode" in data["b"]["description"]
    assert math.isfinite(data["fid"])
    checkpoint = next((run_dir / "checkpoints").glob("*.pt"))
    again = run_json("mnist-10k:test", str(checkpoint), "--n", "200", *SMALL)
    assert math.isfinite(again["fid"])
    assert run_json("mnist-10k:test", str(run_dir), "--n", "200", *SMALL)["fid"] == data["fid"]


def _pickle_as_npz(path):
    path.write_bytes(pickle.dumps({"images": np.zeros((2, 28, 28), dtype=np.uint8)}))
    return path


@pytest.mark.parametrize(
    "make_args, message",
    [
        (lambda tmp: ["mnist-10k:train", "mnist-10k:test", "--n", "0"], "--n must be a positive"),
        (lambda tmp: ["mnist-10k:train", "mnist-10k:test", "--n", "-5"], "--n must be a positive"),
        (lambda tmp: ["mnist-10k:train", "mnist-10k:test", "--n", "20000"], "holds only 10000 images"),
        (
            lambda tmp: ["mnist-10k:train", "mnist-10k:test", "--features", "lenet-mnst"],
            "Did you mean 'lenet-mnist'",
        ),
        (lambda tmp: ["mnist-10k:train", "mnist-10k:test", "--features", "inception"], "--inception-weights"),
        (
            lambda tmp: ["mnist-10k:train", "mnist-10k:test", "--inception-weights", str(tmp / "w.pth")],
            "applies to extractors that take a weights file",
        ),
        (lambda tmp: ["mnist-10k:train", "mnist-10k:nosplit"], "no split 'nosplit'"),
        (lambda tmp: ["nosuchdataset:test", "mnist-10k:test"], "unknown dataset"),
        (lambda tmp: ["mnist-10k:train", str(tmp / "absent.npz")], "no .npz file"),
        (lambda tmp: ["mnist-10k:train", str(tmp / "absent")], "no file or directory"),
        (lambda tmp: ["mnist-10k:train", str(_pickle_as_npz(tmp / "pickled.npz"))], "not a readable .npz"),
        (lambda tmp: ["mnist-10k:train", "mnist-10k:test", "--device", "tpu:7"], "is not a torch device"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_no_traceback(tmp_path, monkeypatch, make_args, message):
    monkeypatch.delenv("GANZOO_INCEPTION_WEIGHTS", raising=False)
    result = run(*make_args(tmp_path))
    assert result.exit_code == 2, result.output
    assert "Error:" in result.output and message in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "images, message",
    [
        (np.zeros((4, 28, 28), dtype=np.float32), "must be uint8"),
        (np.zeros((4, 5, 28, 28), dtype=np.uint8), "has shape (4, 5, 28, 28)"),
        (np.zeros((4, 28), dtype=np.uint8), "has shape (4, 28)"),
        (np.zeros((1, 28, 28), dtype=np.uint8), "at least 2"),
    ],
)
def test_unusable_npz_images_exit_2(tmp_path, digits, images, message):
    np.savez(tmp_path / "good.npz", images=digits[:10])
    np.savez(tmp_path / "bad.npz", images=images)
    result = run(str(tmp_path / "good.npz"), str(tmp_path / "bad.npz"))
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_an_npz_without_images_names_what_it_has(tmp_path):
    np.savez(tmp_path / "other.npz", pictures=np.zeros((3, 28, 28), dtype=np.uint8))
    result = run("mnist-10k:train", str(tmp_path / "other.npz"))
    assert result.exit_code == 2 and "no 'images' array (it has: pictures)" in result.output


def test_pickled_npz_content_does_not_run(tmp_path):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (marker.mkdir, ())

    (tmp_path / "evil.npz").write_bytes(pickle.dumps({"images": Payload()}, protocol=2))
    result = run("mnist-10k:train", str(tmp_path / "evil.npz"))
    assert result.exit_code == 2 and not marker.exists()
