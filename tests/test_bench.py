"""`ganzoo bench`: one table for several models, the real-data floor, and every file with provenance."""

from __future__ import annotations

import json
import math

import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from ganzoo.bench import BenchConfig, run_benchmark
from ganzoo.cli import cli
from ganzoo.commands.bench import parse_duration

TINY = ["generator_width=8", "discriminator_width=8", "batch_size=16"]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    config = BenchConfig(
        models=["vanilla", "wgan"], steps=6, eval_every=3, n_eval=300, seeds=2, out=out, overrides=TINY
    )
    return run_benchmark(config), out


def test_every_model_is_evaluated_with_the_same_extractor_and_counts(results):
    data, _ = results
    assert [m["model"] for m in data["models"]] == ["vanilla", "wgan-gp"]
    assert data["n_real"] == data["n_fake"] == 300
    assert data["feature_extractor"]["name"] == "lenet-mnist" and "sha256" in data["feature_extractor"]
    for model in data["models"]:
        assert math.isfinite(model["fid_mean"]) and model["fid_std"] >= 0
        assert len(model["seeds"]) == 2
        assert [e["step"] for e in model["seeds"][0]["evaluations"]] == [3, 6]
        assert model["plugin"] in ("vanilla", "wgan-gp")


def test_the_floor_is_far_below_an_untrained_generator(results):
    data, _ = results
    assert 0 <= data["floor"]["fid"] < min(m["fid_mean"] for m in data["models"])


def test_provenance_is_recorded(results):
    data, _ = results
    assert {"ganzoo", "torch", "torchmetrics", "plugins"} <= set(data["versions"])
    assert {"cpu", "cpu_count"} <= set(data["machine"])
    assert data["dataset"]["train_fingerprint"] != data["dataset"]["test_fingerprint"]
    assert data["reference_split"] == "mnist-10k:test" and data["seeds"] == [0, 1]
    assert data["budget"]["steps"] == 6


def test_files_are_written(results):
    data, out = results
    assert json.loads((out / "results.json").read_text())["models"] == data["models"]
    markdown = (out / "results.md").read_text()
    assert "real data (floor)" in markdown and "wgan-gp" in markdown and "lenet-mnist" in markdown
    assert Image.open(out / "fid_vs_time.png").size[0] > 300
    grid = Image.open(out / "samples_vanilla.png")
    assert grid.text["ganzoo:synthetic"] == "true"


def test_an_existing_results_directory_is_not_overwritten(results):
    _, out = results
    from ganzoo.errors import UsageError

    with pytest.raises(UsageError, match="already holds"):
        run_benchmark(BenchConfig(models=["vanilla"], steps=1, out=out))


def test_cli_prints_one_table_with_both_models_and_the_floor(tmp_path):
    runner = CliRunner()
    args = ["bench", "--model", "vanilla", "--model", "dcgan", "--steps", "2", "--n-eval", "200", "--out",
            str(tmp_path / "b")]
    for item in TINY:
        args += ["--set", item]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "vanilla" in result.output and "dcgan" in result.output and "floor" in result.output
    # One seed: the spread over seeds is unknown, not zero.
    assert "± 0.00" not in result.output and "Fidelity and diversity" in result.output
    assert "one seed, no spread" in (tmp_path / "b" / "results.md").read_text()
    data = json.loads((tmp_path / "b" / "results.json").read_text())
    assert all(model["fid_std"] is None for model in data["models"])
    assert any("n = 200 < 10,000" in note and "measured at this n" in note for note in data["notes"])


def test_every_new_metric_is_recorded_for_the_models_and_the_floor(results):
    data, out = results
    floor = data["floor"]
    assert 0.5 < floor["precision"] <= 1 and 0.5 < floor["coverage"] <= 1 and floor["classifier_score"] > 8
    for model in data["models"]:
        final = model["seeds"][0]["evaluations"][-1]["metrics"]
        assert {"precision", "recall", "density", "coverage", "classifier_score", "kid_sem"} <= set(final)
        assert 0 <= model["precision_mean"] <= 1 and model["classifier_score_mean"] >= 1
        assert model["seeds"][0]["evaluations"][0]["metrics"] == {}  # not at the intermediate evaluation
    markdown = (out / "results.md").read_text()
    assert "| model | FID | precision | recall | density | coverage | classifier score |" in markdown
    assert "mean over 2 seeds" in markdown


@pytest.mark.parametrize(
    "args, message",
    [
        (["--all", "--model", "dcgan"], "exclude"),
        (["--model", "dcgan", "--steps", "5", "--time-budget", "1m"], "exclude"),
        (["--model", "dcgan", "--time-budget", "soon"], "duration"),
        (["--model", "nosuchgan"], "unknown model"),
        (["--model", "dcgan", "--features", "nosuch"], "unknown feature extractor"),
        (["--model", "dcgan", "--n-eval", "0"], "n-eval"),
        (["--model", "dcgan", "--augment", "cutoff"], "unknown augmentation 'cutoff'"),
        (["--model", "dcgan", "--train-subset", "0"], "train-subset"),
        (["--model", "dcgan", "--train-subset", "20000"], "holds only 10000 images"),
        ([], "at least one"),
    ],
)
def test_bad_options_exit_2_without_traceback(args, message):
    result = CliRunner().invoke(cli, ["bench", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_a_subset_with_augmentation_is_trained_on_and_recorded(tmp_path):
    from ganzoo import load_dataset
    from ganzoo.bench import training_images

    args = ["bench", "--model", "vanilla", "--steps", "2", "--n-eval", "200", "--train-subset", "100",
            "--augment", "translation,cutout", "--out", str(tmp_path / "b")]
    for item in TINY:
        args += ["--set", item]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "b" / "results.json").read_text())
    assert (data["training_subset"], data["augment"]) == (100, ["translation", "cutout"])
    assert "100 images of it per seed" in (tmp_path / "b" / "results.md").read_text()
    run = json.loads((tmp_path / "b" / "runs" / "vanilla-seed0" / "config.json").read_text())
    assert run["train"]["augment"] == ["translation", "cutout"]
    train = load_dataset("mnist-10k:train")
    first, again, other = (training_images(train, 100, seed) for seed in (0, 0, 1))
    assert len(first) == 100 and torch.equal(first.images, again.images) and not torch.equal(first.images, other.images)
    assert (run["dataset"]["size"], run["dataset"]["fingerprint"]) == (100, first.fingerprint)  # seed 0's subset


def test_parse_duration():
    assert parse_duration("5m") == 300 and parse_duration("90") == 90 and parse_duration("1.5h") == 5400
