"""What goes into a score is the user's images, unchanged unless they ask, and every "±" means what it says:
folders keep their size, the extractor's conversions and misuse are stated, KID's error bar is a standard
error, a single seed prints no spread, and a small sample carries the real-data floor at its n."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import ganzoo
from ganzoo.cli import cli
from ganzoo.metrics.fid import FidEvaluator
from ganzoo.metrics.sample_size import LENET_MNIST_FLOOR, sample_size_note
from ganzoo.metrics.sources import load_image_source, random_subset

SMALL = ["--kid-subsets", "5", "--no-manifold"]


def run(*args: str):
    return CliRunner().invoke(cli, ["fid", *args], prog_name="ganzoo")


def run_json(*args: str) -> dict:
    result = run(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    """300 test digits, (N, 28, 28) uint8."""
    return ganzoo.load_dataset("mnist-10k:test").images[:300, 0].numpy()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def write_pngs(folder, images) -> None:
    folder.mkdir()
    for index, image in enumerate(images):
        Image.fromarray(image).save(folder / f"{index:03d}.png")


def test_a_folder_of_28x28_pngs_scores_as_the_same_pixels_in_an_npz(tmp_path, digits, cache):
    write_pngs(tmp_path / "pngs", digits)
    np.savez(tmp_path / "same.npz", images=digits)
    source = load_image_source(f"folder:{tmp_path / 'pngs'}")
    assert tuple(source.images.shape) == (300, 1, 28, 28) and source.notes == ()
    assert torch.equal(source.images[:, 0], torch.from_numpy(digits))
    data = run_json(f"folder:{tmp_path / 'pngs'}", str(tmp_path / "same.npz"), *SMALL)
    assert abs(data["fid"]) < 1e-6
    assert not any("resized" in note for note in data["notes"])


def test_a_folder_is_resized_only_when_asked_and_then_says_so(tmp_path, digits, cache):
    write_pngs(tmp_path / "pngs", digits)
    data = run_json(
        f"folder:{tmp_path / 'pngs'}", "mnist-10k:test", "--n", "300", "--image-size", "32", *SMALL
    )
    assert any("A: " in note and "resized to 32x32 (bicubic)" in note for note in data["notes"])
    assert any("size: 32x32 -> 28x28" in line for line in data["real_conversions"])


def test_a_folder_of_mixed_sizes_asks_for_an_image_size(tmp_path, digits, cache):
    write_pngs(tmp_path / "mixed", digits[:20])
    Image.fromarray(np.zeros((40, 40), np.uint8)).save(tmp_path / "mixed" / "big.png")
    result = run(f"folder:{tmp_path / 'mixed'}", "mnist-10k:test", *SMALL)
    assert result.exit_code == 2 and "--image-size" in result.output and "Traceback" not in result.output


def test_colour_images_into_lenet_mnist_are_converted_with_notes_and_a_warning(tmp_path, digits, cache):
    rng = np.random.default_rng(0)
    big = np.asarray(
        [np.asarray(Image.fromarray(d).resize((64, 64), Image.Resampling.BICUBIC)) for d in digits[:200]]
    )
    colour = np.stack([big, big // 2, rng.integers(0, 256, big.shape, dtype=np.uint8)], axis=-1)
    write_pngs(tmp_path / "rgb", colour)
    data = run_json(f"folder:{tmp_path / 'rgb'}", "mnist-10k:test", "--n", "200", *SMALL)
    assert "channels: RGB -> grayscale (ITU-R BT.601 luma)" in data["real_conversions"]
    assert any(line.startswith("size: 64x64 -> 28x28") for line in data["real_conversions"])
    assert any(line.startswith("range: ") for line in data["fake_conversions"])
    assert any("converted the real images" in note and "RGB -> grayscale" in note for note in data["notes"])
    assert any("colour images" in note and note.startswith("real images:") for note in data["notes"])
    table = run(f"folder:{tmp_path / 'rgb'}", "mnist-10k:test", "--n", "200", *SMALL)
    assert "grayscale" in table.output and "colour" in table.output


def test_grayscale_images_need_no_conversion_note():
    test = ganzoo.load_dataset("mnist-10k:test").images[:300]
    result = FidEvaluator(test[:150], kid_subsets=0, manifold=False).evaluate(test[150:])
    assert not any("converted" in note for note in result.notes)
    assert result.fake_conversions and all(line.startswith("range:") for line in result.fake_conversions)


def test_kid_error_bar_is_the_standard_error_of_the_mean_of_the_subsets():
    train, test = ganzoo.load_dataset("mnist-10k:train"), ganzoo.load_dataset("mnist-10k:test")
    evaluator = FidEvaluator(
        random_subset(train.images, 600, 0, "train"), kid_subsets=50, kid_subset_size=200, manifold=False
    )
    result = evaluator.evaluate(random_subset(test.images, 600, 1, "test"))
    assert result.kid_std > 0
    assert result.kid_sem == pytest.approx(result.kid_std / math.sqrt(50), rel=1e-12)
    whole = evaluator.evaluate(random_subset(test.images, 200, 1, "test"))
    assert whole.kid_subset_size == 200 and whole.kid_std is not None  # the real side's subsets still vary


def test_kid_on_whole_sets_prints_no_error_bar():
    result = run("mnist-10k:train", "mnist-10k:test", "--n", "200", "--no-manifold")
    assert result.exit_code == 0, result.output
    assert "± 0.00000" not in result.output and "no error bar" in result.output
    data = run_json("mnist-10k:train", "mnist-10k:test", "--n", "200", "--no-manifold")
    assert data["kid_sem"] is None and data["kid_std"] is None and math.isfinite(data["kid_mean"])
    subsets = run(
        "mnist-10k:train",
        "mnist-10k:test",
        "--n",
        "300",
        "--kid-subset-size",
        "100",
        "--kid-subsets",
        "20",
        "--no-manifold",
    )
    assert "KID (20 subsets of 100)" in subsets.output and "(s.e.m.)" in subsets.output


@pytest.mark.parametrize("n", [200, 1500, 2000, 9999])
def test_a_score_below_10000_images_carries_the_real_data_floor_at_its_n(n):
    note = sample_size_note("lenet-mnist", n)
    assert f"n = {n:,} < 10,000" in note
    below = max(c for c in LENET_MNIST_FLOOR if c <= max(n, min(LENET_MNIST_FLOOR)))
    low, _ = LENET_MNIST_FLOOR[below]
    assert f"{low:.2f}" in note
    assert sample_size_note("lenet-mnist", 10_000) is None
    assert "measure the real-data floor" in sample_size_note("inception", n)
    assert "measured at this n is FID 1.23" in sample_size_note("inception", n, measured_floor=1.234)


def test_the_fid_command_notes_the_floor_below_10000_images():
    data = run_json("mnist-10k:train", "mnist-10k:test", "--n", "1000", *SMALL)
    low, high = LENET_MNIST_FLOOR[1000]
    assert any("n = 1,000 < 10,000" in note and f"{low:.2f}-{high:.2f}" in note for note in data["notes"])
