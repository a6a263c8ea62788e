"""CAS, its ceiling, intra-class FID and the augmentation experiment: held-out test data only, determinism,
and the commands."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import ganzoo
from ganzoo.augmentation import AugmentationConfig, run_augmentation
from ganzoo.cli import cli
from ganzoo.metrics import cas
from ganzoo.metrics.cas import ClassifierRecipe, accuracy, train_classifier
from ganzoo.metrics.conditional import evaluate_run

FAST = ClassifierRecipe(steps=20, batch_size=16, width=4, hidden=16)
TINY = ["generator_width=8", "discriminator_width=8"]


def small_run(tmp_path, name="run", **changes):
    config = dict(
        model="cgan-pd", overrides=TINY, batch_size=16, sample_every=0, checkpoint_every=0, log_every=5
    )
    config.update(changes)
    return ganzoo.train(steps=4, out=str(tmp_path / name), **config)


def test_the_recipe_is_deterministic_given_a_seed():
    data = ganzoo.load_dataset("mnist-10k:train")
    images, labels = data.images[:300], data.labels[:300]
    first = train_classifier(images, labels, 10, seed=3, recipe=FAST)
    second = train_classifier(images, labels, 10, seed=3, recipe=FAST)
    other = train_classifier(images, labels, 10, seed=4, recipe=FAST)
    for key, value in first.state_dict().items():
        assert torch.equal(value, second.state_dict()[key]), key
    assert any(not torch.equal(v, other.state_dict()[k]) for k, v in first.state_dict().items())


def test_the_recipe_learns_real_digits():
    data = ganzoo.load_dataset("mnist-10k:train")
    test = ganzoo.load_dataset("mnist-10k:test")
    recipe = ClassifierRecipe(steps=150)
    classifier = train_classifier(data.images[:2000], data.labels[:2000], 10, seed=0, recipe=recipe)
    assert accuracy(classifier, test.images[:1000], test.labels[:1000]) > 0.8


def test_cas_tests_only_on_the_held_out_split_and_never_on_training_images(tmp_path, monkeypatch):
    run = small_run(tmp_path)
    test = ganzoo.load_dataset("mnist-10k:test")
    train = ganzoo.load_dataset("mnist-10k:train")
    tested, trained = [], []
    real_accuracy, real_train = cas.accuracy, cas.train_classifier

    def spy_accuracy(model, images, labels, **kwargs):
        tested.append(images)
        return real_accuracy(model, images, labels, **kwargs)

    def spy_train(images, labels, num_classes, **kwargs):
        trained.append(images)
        return real_train(images, labels, num_classes, **kwargs)

    monkeypatch.setattr(cas, "accuracy", spy_accuracy)
    monkeypatch.setattr(cas, "train_classifier", spy_train)
    result = evaluate_run(run.directory, n=200, recipe=FAST)
    assert result["test_split"] == "mnist-10k:test" and result["n_test"] == len(test)
    assert len(tested) == 2 and all(torch.equal(images, test.images) for images in tested)
    # The ceiling trains on real training images, CAS on generated ones; neither on a test image.
    test_rows = {bytes(image.numpy()) for image in test.images}
    for images in trained:
        assert not any(bytes(image.numpy()) in test_rows for image in images)
    assert {bytes(image.numpy()) for image in trained[1]} <= {bytes(image.numpy()) for image in train.images}
    assert 0.0 <= result["cas"] <= 1.0 and 0.0 <= result["ceiling"] <= 1.0


def test_cas_refuses_the_split_the_model_trained_on(tmp_path):
    run = small_run(tmp_path, dataset="mnist-10k:test")
    with pytest.raises(ganzoo.UsageError, match="holds the images the model was trained on"):
        evaluate_run(run.directory, n=100, recipe=FAST)


def test_cas_needs_a_conditional_run(tmp_path):
    run = small_run(tmp_path, model="dcgan")
    with pytest.raises(ganzoo.UsageError, match="not class-conditional"):
        evaluate_run(run.directory, n=100, recipe=FAST)


def test_intra_fid_and_the_cas_command(tmp_path, monkeypatch):
    run = small_run(tmp_path)
    monkeypatch.setattr(cas, "DEFAULT_RECIPE", FAST)
    monkeypatch.setattr("ganzoo.metrics.conditional.DEFAULT_RECIPE", FAST)
    monkeypatch.setattr("ganzoo.metrics.conditional.INTRA_FID_PER_CLASS", 20)
    result = CliRunner().invoke(cli, ["cas", str(run.directory), "--n", "100", "--intra-fid", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert len(data["per_class_fid"]) == 10 and data["intra_fid"] == pytest.approx(
        np.mean(data["per_class_fid"])
    )
    assert {"cas", "ceiling", "recipe", "test_fingerprint"} <= set(data)


def test_sample_by_class_and_the_per_class_grid(tmp_path):
    from PIL import Image

    run = small_run(tmp_path)
    runner = CliRunner()
    out = tmp_path / "threes.npz"
    result = runner.invoke(
        cli, ["sample", str(run.directory), "--class", "3", "--n", "5", "--format", "npz", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    with np.load(out) as archive:
        assert archive["images"].shape == (5, 1, 28, 28) and archive["labels"].tolist() == [3] * 5
    grid = tmp_path / "grid.png"
    assert runner.invoke(cli, ["sample", str(run.directory), "-o", str(grid)]).exit_code == 0
    assert Image.open(grid).size == (2 + 10 * 30, 2 + 10 * 30)  # 10 rows (one per class) of 10
    result = runner.invoke(
        cli, ["sample", str(run.directory), "--class", "10", "-o", str(tmp_path / "x.png")]
    )
    assert result.exit_code == 2 and "classes 0..9" in result.output


def test_augmentation_writes_its_table_and_plot(tmp_path):
    config = AugmentationConfig(
        real_images=64, generated_images=64, seeds=2, steps=2, out=tmp_path / "aug", recipe=FAST
    )
    results = run_augmentation(dataclasses.replace(config), say=lambda *a: None)
    assert [s["seed"] for s in results["seeds"]] == [0, 1]
    assert set(results["summary"]) == {"real", "real+generated", "generated"}
    assert (tmp_path / "aug" / "augmentation.png").stat().st_size > 0
    assert "| real+generated |" in (tmp_path / "aug" / "augmentation.md").read_text()
    # The GAN of each seed trained on that seed's K images only.
    for seed in (0, 1):
        saved = json.loads((tmp_path / "aug" / "runs" / f"cgan-pd-seed{seed}" / "config.json").read_text())
        assert saved["dataset"]["size"] == 64
