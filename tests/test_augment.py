"""DiffAugment: each built-in transform does what the paper's code does, per image, differentiably; the
training iteration applies the chosen pipeline to everything D sees; --augment reaches the run's config."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

import ganzoo
from ganzoo.augment import build_pipeline, parse_augment
from ganzoo.cli import cli as main
from ganzoo.errors import UsageError


def digits(n=16, seed=0) -> torch.Tensor:
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def augmentation(name):
    return ganzoo.zoo().augmentations.get(name)


def test_translation_shifts_each_image_by_at_most_an_eighth_with_zero_padding():
    images = digits()
    torch.manual_seed(0)
    out = augmentation("translation")(images)
    shifts = set()
    for image, shifted in zip(images, out):
        matches = []
        for dy in range(-4, 5):  # int(28 * 0.125 + 0.5) = 4
            for dx in range(-4, 5):
                padded = torch.nn.functional.pad(image, (4, 4, 4, 4))
                window = padded[:, 4 + dy : 4 + dy + 28, 4 + dx : 4 + dx + 28]
                if torch.equal(window, shifted):
                    matches.append((dy, dx))
        assert len(matches) == 1
        shifts.add(matches[0])
    assert len(shifts) > 1  # drawn per image


def test_cutout_zeroes_one_square_of_at_most_half_the_side_per_image():
    images = digits() * 0.5 + 0.6  # no pixel is zero before
    torch.manual_seed(1)
    out = augmentation("cutout")(images)
    for image, cut in zip(images, out):
        zero = cut == 0
        assert torch.equal(cut[~zero], image[~zero])
        rows, columns = zero[0].nonzero(as_tuple=True)
        assert 0 < zero.sum() <= 14 * 14
        height, width = rows.max() - rows.min() + 1, columns.max() - columns.min() + 1
        assert height <= 14 and width <= 14 and zero.sum() == height * width  # one filled rectangle


def test_color_is_an_affine_map_of_each_image_with_the_papers_ranges():
    images = digits()
    torch.manual_seed(2)
    out = augmentation("color")(images)
    for image, coloured in zip(images, out):
        # One channel: saturation does nothing, brightness adds b, contrast scales about the mean by c.
        x, y = image.flatten().double(), coloured.flatten().double()
        c = ((y - y.mean()) @ (x - x.mean())) / ((x - x.mean()) @ (x - x.mean()))
        torch.testing.assert_close(y - y.mean(), c * (x - x.mean()))
        assert 0.5 <= c <= 1.5 and abs((y.mean() - x.mean()).item()) <= 0.5 + 1e-6


@pytest.mark.parametrize("name", ["color", "translation", "cutout"])
def test_the_same_seed_gives_the_same_augmentation_and_gradients_flow(name):
    images = digits().requires_grad_(True)
    torch.manual_seed(3)
    first = augmentation(name)(images)
    torch.manual_seed(3)
    second = augmentation(name)(images)
    assert torch.equal(first, second)
    (gradient,) = torch.autograd.grad(first.sum(), images)
    assert gradient.abs().sum() > 0


def test_channels_last_batches_stay_channels_last():
    images = torch.rand(4, 3, 32, 32).contiguous(memory_format=torch.channels_last)
    out = build_pipeline(["color", "translation", "cutout"])(images)
    assert out.shape == images.shape and out.is_contiguous(memory_format=torch.channels_last)


def test_parse_augment():
    assert parse_augment(" translation, cutout ") == ["translation", "cutout"]
    assert parse_augment("none") == parse_augment("") == parse_augment(None) == []
    with pytest.raises(UsageError, match="twice"):
        parse_augment("cutout,cutout")
    with pytest.raises(UsageError, match="unknown augmentation 'cutoff'. Did you mean 'cutout'"):
        build_pipeline(["cutoff"])


def test_the_iteration_shows_d_only_augmented_batches(monkeypatch):
    from test_losses import tiny_iteration

    class Mark:
        """Replaces every pixel by 7, so whatever D sees shows whether it went through the pipeline."""

        def __call__(self, images):
            return images * 0 + 7

    loss = ganzoo.zoo().losses.get("relativistic")
    iteration, calls, _, _ = tiny_iteration(loss, critic_steps=2)
    iteration.seen = Mark()
    iteration(0)
    assert len(calls) == 6 and all(bool((seen == 7).all()) for seen in calls)


def test_train_records_augment_and_rejects_unknown_names(tmp_path):
    runner = CliRunner()
    out = tmp_path / "run"
    result = runner.invoke(main, ["train", "--model", "vanilla", "--steps", "2", "--out", str(out), "--no-progress",
                                  "--set", "generator_width=8", "--set", "discriminator_width=8",
                                  "--augment", "translation,cutout"])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "config.json").read_text())["train"]["augment"] == ["translation", "cutout"]
    bad = runner.invoke(main, ["train", "--model", "vanilla", "--steps", "2", "--out", str(tmp_path / "bad"),
                               "--augment", "flip"])
    assert bad.exit_code == 2 and "unknown augmentation 'flip'" in bad.output
    assert not (tmp_path / "bad").exists()
