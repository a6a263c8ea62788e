"""Issue 15, items 1 and 6: every value a run's files bring back (config.json, metrics.jsonl, a checkpoint's
tensors) is checked against ganzoo.engine.schema before use. Each crafted file ends in one `Error:` line
naming the file, the field and the value expected: no segfault, no glibc abort, no traceback, no wrong
diagnosis. And values that parse but cannot work on the command line (a billion samples) are refused."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import ganzoo
from ganzoo import checkpoint as ckpt
from ganzoo.cli import cli
from ganzoo.engine import TrainConfig, schema

TINY = dict(
    model="dcgan",
    overrides=["generator_width=8", "discriminator_width=8"],
    batch_size=16,
    sample_every=0,
    checkpoint_every=5,
    log_every=5,
    progress=False,
)


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> Path:
    return ganzoo.train(steps=10, out=str(tmp_path_factory.mktemp("schema") / "run"), **TINY).directory


@pytest.fixture
def run_copy(trained_run, tmp_path) -> Path:
    copy = Path(shutil.copytree(trained_run, tmp_path / "run"))
    (copy / ".lock").unlink(missing_ok=True)
    return copy


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], prog_name="ganzoo")


def error_line(result, exit_code: int) -> str:
    """The one `Error:` line of a command that failed cleanly with ``exit_code``."""
    assert result.exit_code == exit_code, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    return errors[0]


def test_the_schema_covers_every_setting_of_a_run():
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    assert set(schema.TRAIN_FIELDS) == fields
    assert set(schema.REQUIRED_TRAIN_FIELDS) <= fields
    defaults = dataclasses.asdict(TrainConfig())
    for name, (test, expected) in schema.TRAIN_FIELDS.items():
        assert test(defaults[name]) or name == "steps", (name, expected)  # the defaults pass


# -- config.json ---------------------------------------------------------------------------------------------

CONFIG_EDITS = {
    "seed-as-text": ("seed", "0"),
    "seed-fraction": ("seed", 1.5),
    "seed-huge": ("seed", 10**30),
    "grid-size-huge": ("grid_size", 10**12),
    "dataset-number": ("dataset", 5),
    "overrides-of-numbers": ("overrides", [1]),
    "data-dir-number": ("data_dir", 5),
    "image-size-text": ("image_size", "64"),
    "model-number": ("model", 5),
    "log-every-text": ("log_every", "often"),
    "ema-decay-one": ("ema_decay", 1.0),
    "channels-two": ("channels", 2),
    "ema-not-bool": ("ema", "yes"),
}


@pytest.mark.parametrize("case", CONFIG_EDITS, ids=list(CONFIG_EDITS))
def test_an_edited_run_config_names_the_file_the_field_and_the_expected_value(run_copy, case):
    field, value = CONFIG_EDITS[case]
    config = json.loads((run_copy / "config.json").read_text())
    config["train"][field] = value
    (run_copy / "config.json").write_text(json.dumps(config))
    before = sorted(p.name for p in (run_copy / "checkpoints").iterdir())
    line = error_line(invoke("train", "--resume", run_copy, "--steps", "12", "--no-progress"), 1)
    assert "config.json" in line and f"'train' {field!r} must be" in line, line
    assert sorted(p.name for p in (run_copy / "checkpoints").iterdir()) == before


def test_a_run_config_without_its_model_is_an_error_not_dcgan(run_copy):
    config = json.loads((run_copy / "config.json").read_text())
    del config["train"]["model"]
    (run_copy / "config.json").write_text(json.dumps(config))
    line = error_line(invoke("train", "--resume", run_copy, "--steps", "12"), 1)
    assert "config.json: 'train' 'model' must be present" in line, line


@pytest.mark.parametrize(
    "line_text, fragment",
    [
        ('{"step": "5"}', "line 3 'step' must be an integer"),
        ('{"step": 1e400}', "line 3 'step' must be an integer"),
        ("[5]", "line 3 must be a JSON object"),
        ('{"step": 4, "d_loss": "low"}', "line 3 'd_loss' must be a number"),
    ],
    ids=["step-as-text", "step-infinite", "not-an-object", "loss-as-text"],
)
def test_an_edited_metrics_line_names_the_file_and_the_line(run_copy, line_text, fragment):
    lines = (run_copy / "metrics.jsonl").read_text().splitlines()
    lines.insert(2, line_text)
    (run_copy / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    line = error_line(invoke("train", "--resume", run_copy, "--steps", "12"), 1)
    assert "metrics.jsonl" in line and fragment in line, line


# -- checkpoints ---------------------------------------------------------------------------------------------


def _edit_checkpoint(run: Path, edit) -> Path:
    path = ckpt.checkpoint_path(run, 10)
    state = torch.load(path, weights_only=True)
    edit(state)
    torch.save(state, path)
    return path


def _first_state(optimizer_state):
    return optimizer_state["state"][next(iter(optimizer_state["state"]))]


def _permutation_out_of_range(state):
    state["sampler"]["permutation"][0] = 10**6


def _permutation_repeated(state):
    state["sampler"]["permutation"][0] = state["sampler"]["permutation"][1]


CHECKPOINT_EDITS = {
    "negative-step": (lambda s: s.update(step=-50), "'step' must be an integer"),
    "step-as-text": (lambda s: s.update(step="10"), "'step' must be an integer"),
    "step-not-the-file-name": (lambda s: s.update(step=7), "'step' must be 10 (the step in the file's name)"),
    "permutation-out-of-range": (_permutation_out_of_range, "'sampler' 'permutation' must be a permutation"),
    "permutation-repeated": (_permutation_repeated, "'sampler' 'permutation' must be a permutation"),
    "position-past-the-end": (
        lambda s: s["sampler"].update(position=10**7),
        "'sampler' 'position' must be an integer from 0 to 10000",
    ),
    "exp-avg-one-row": (
        lambda s: _first_state(s["optimizer_generator"]).update(
            exp_avg=_first_state(s["optimizer_generator"])["exp_avg"][:1]
        ),
        "'optimizer_generator' state[0] 'exp_avg' must be a float tensor of shape",
    ),
    "exp-avg-sq-missing": (
        lambda s: _first_state(s["optimizer_discriminator"]).pop("exp_avg_sq"),
        "'optimizer_discriminator' state[0] must be a state with exp_avg, exp_avg_sq, step",
    ),
    "adam-step-negative": (
        lambda s: _first_state(s["optimizer_generator"]).update(step=torch.tensor(-3.0)),
        "'step' must be a non-negative finite number",
    ),
    "learning-rate-nan": (
        lambda s: s["optimizer_generator"]["param_groups"][0].update(lr=float("nan")),
        "param_groups[0] 'lr' must be a positive finite number",
    ),
    "param-indices": (
        lambda s: s["optimizer_generator"]["param_groups"][0].update(params=[0, 1]),
        "param_groups[0] 'params' must be the parameter indices",
    ),
    "ema-tensor-of-another-shape": (
        lambda s: s["ema_generator"].update({k: v[:1] for k, v in list(s["ema_generator"].items())[:1]}),
        "'ema_generator'",
    ),
    "ema-missing": (
        lambda s: s.update(ema_generator=None),
        "'ema_generator' must be a dictionary of tensors",
    ),
    "generator-weights-as-float64": (
        lambda s: s["generator"].update({k: v.double() for k, v in list(s["generator"].items())[:1]}),
        "must be a torch.float32 tensor",
    ),
    "torch-rng-short": (
        lambda s: s["rng"].update(torch=s["rng"]["torch"][:10]),
        "'rng' 'torch' must be a uint8",
    ),
    "numpy-keys-negative": (
        lambda s: s["rng"]["numpy_keys"].__setitem__(0, -1),
        "'rng' 'numpy_keys' must be an int64 tensor of 624 values",
    ),
    "python-rng-short": (
        lambda s: s["rng"].update(python=(3, (1, 2), None)),
        "'rng' 'python' must be (3, 625 integers",
    ),
    "sampler-generator-as-int64": (
        lambda s: s["sampler"].update(generator=s["sampler"]["generator"].long()),
        "'sampler' 'generator' must be a uint8 tensor",
    ),
    "train-seconds-infinite": (lambda s: s.update(train_seconds=float("inf")), "'train_seconds' must be"),
}


@pytest.mark.parametrize("case", CHECKPOINT_EDITS, ids=list(CHECKPOINT_EDITS))
def test_a_crafted_checkpoint_names_the_file_and_the_field(run_copy, case):
    edit, fragment = CHECKPOINT_EDITS[case]
    path = _edit_checkpoint(run_copy, edit)
    line = error_line(invoke("train", "--resume", run_copy, "--steps", "12", "--no-progress"), 1)
    assert str(path) in line and fragment in line, line
    assert "must be" in line and "non-finite" not in line


CRAFTED = r"""
import sys, torch
path = sys.argv[1]
state = torch.load(path, weights_only=True)
for key in ("optimizer_generator", "optimizer_discriminator"):
    for entry in state[key]["state"].values():
        entry["exp_avg"] = entry["exp_avg"][:1].clone()
torch.save(state, path)
"""


def test_a_checkpoint_with_a_cut_adam_state_does_not_crash_the_process(run_copy):
    """The report's reproduction: before the schema, fused CPU Adam read past the cut tensor (exit 139 or
    134). A real process, so that a crash could not take the test run with it."""
    path = ckpt.checkpoint_path(run_copy, 10)
    subprocess.run([sys.executable, "-c", CRAFTED, str(path)], check=True, timeout=120)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ganzoo",
            "train",
            "--resume",
            str(run_copy),
            "--steps",
            "14",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert result.returncode == 1, (result.returncode, result.stderr)
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    assert str(path) in errors[0] and "'optimizer_generator' state[0] 'exp_avg'" in errors[0], errors[0]


def test_an_untouched_checkpoint_passes_the_schema_and_resumes(run_copy):
    result = invoke("train", "--resume", run_copy, "--steps", "12", "--no-progress")
    assert result.exit_code == 0, result.output


# -- values that parse but cannot work -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, fragment",
    [
        (
            ["sample", "{run}", "--n", "1000000000", "--format", "npz"],
            "--n 1000000000 asks for 1000000000 images",
        ),
        (["sample", "{run}", "--grid", "100000x100000"], "--grid 100000x100000 makes a PNG of"),
        (["sample", "{run}", "--n", "1000000000"], "--grid"),
        (["fid", "{run}", "mnist-10k:test", "--n", "1000000000"], "--n 1000000000 asks for"),
    ],
    ids=["sample-a-billion", "sample-huge-grid", "sample-a-billion-as-grid", "fid-a-billion"],
)
def test_counts_that_cannot_fit_are_refused_before_sampling(trained_run, tmp_path, args, fragment):
    args = [a.format(run=trained_run) for a in args]
    if args[0] == "sample":
        args += ["-o", str(tmp_path / "out")]
    line = error_line(invoke(*args), 2)
    assert fragment in line, line
    assert not list(tmp_path.iterdir())


def test_the_image_budget_admits_what_fits():
    from ganzoo.images import MAX_IMAGE_BYTES, check_grid_shape, check_image_budget

    check_image_budget(MAX_IMAGE_BYTES // 784, (1, 28, 28))
    check_grid_shape(100, 100, (1, 28, 28))
    with pytest.raises(ganzoo.UsageError):
        check_image_budget(MAX_IMAGE_BYTES // 784 + 1, (1, 28, 28))
    assert np.prod((1, 28, 28)) == 784
