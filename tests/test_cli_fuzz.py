"""Fuzzing the command line with hypothesis: whatever options and values a user types, every command ends
with exit status 0, 1 or 2 and never with a traceback.

The goal is the argument and validation layer, so the expensive part behind it is cut short once the
inputs are accepted: Trainer.run returns at once, the bench stops where its first FID evaluation would
start, `ganzoo fid` scores at most 64 images per source, and downloads fail as on a machine offline.
Examples are drawn deterministically; GANZOO_FUZZ_EXAMPLES=N draws N random examples per command instead.

The hostile round (issue 15) draws from the value classes that once crashed a command: huge counts,
negative numbers, values of the wrong type, rich markup and odd bytes in names, on the command line and in
the files a resume reads back (config.json, metrics.jsonl, a checkpoint). GANZOO_FUZZ_REPORT=FILE writes
how many command lines were tried and how many ended in a traceback.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import traceback
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from PIL import Image

import ganzoo
import ganzoo.bench
import ganzoo.commands.metrics
from ganzoo import registry
from ganzoo.cli import cli
from ganzoo.engine import Run, TrainConfig, Trainer

EXAMPLES = int(os.environ.get("GANZOO_FUZZ_EXAMPLES", "0"))
MODELS = ["dcgan", "vanilla", "wgan-gp", "wgan", "DCGAN", "dcgn", "tinygan"]
DATASETS = [
    "mnist-10k",
    "mnist-10k:test",
    "mnist-10k:val",
    "mnist",
    "cifar10",
    "folder:pictures",
    "folder:",
    "folder:absent",
    "pictures",
    "mnist-10k:test:x",
    ":",
]
DEVICES = ["cpu", "auto", "cuda", "cuda:1", "mps", "tpu", "cpu:0", "", "meta"]
HYPERPARAMETERS = [
    "latent_dim",
    "generator_width",
    "discriminator_width",
    "generator_lr",
    "discriminator_lr",
    "generator_betas",
    "discriminator_betas",
    "critic_steps",
    "batch_size",
    "loss",
    "penalty",
    "penalty_weight",
    "nosuch",
    "LATENT-DIM",
    "",
]

# What a user can type: argv never holds a NUL byte, so neither do these.
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)
NUMBER = st.one_of(
    st.integers(-3, 40).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(
        ["0", "-0", "1e3", "1e400", "nan", "-inf", "", " 7 ", "99999999999999999999", "0x10", "½", "3,4"]
    ),
    TEXT,
)
GRID = st.one_of(
    st.builds("{}x{}".format, st.integers(-2, 6), st.integers(-2, 6)),
    st.sampled_from(["4", "x", "4x", "x4", "4X4", "4x4x4", "a x b", "1e1x2"]),
    TEXT,
)
ASSIGNMENT = st.one_of(
    st.builds(
        "{}={}".format,
        st.sampled_from(HYPERPARAMETERS),
        st.one_of(
            NUMBER,
            st.sampled_from(
                [
                    "hinge",
                    "wasserstein",
                    "none",
                    "r1",
                    "gradient-penalty",
                    "0.5,0.9",
                    "(0.1, 0.2)",
                    "[0.5]",
                    "true",
                ]
            ),
        ),
    ),
    TEXT,
)
JUNK_ARGUMENT = st.one_of(st.sampled_from(["--bogus", "-x", "--", "--help", "-h", "--json", "extra"]), TEXT)


def pick(*values: str) -> st.SearchStrategy[str]:
    """One of ``values`` (named inputs that mean something) or any text."""
    return st.one_of(st.sampled_from(values), TEXT)


@st.composite
def command_line(draw, command: str, positional: list, options: dict) -> list[str]:
    """``command``, its positional arguments, a random subset of ``options`` (a flag when the value is None)
    in random order, and now and then an argument that belongs nowhere."""
    args = [command, *(draw(strategy) for strategy in positional)]
    for name in draw(st.lists(st.sampled_from(sorted(options)), unique=True, max_size=7)):
        args.append(name)
        if options[name] is not None:
            args.append(draw(options[name]))
    if draw(st.integers(0, 7)) == 0:
        args.insert(draw(st.integers(0, len(args))), draw(JUNK_ARGUMENT))
    return args


def fuzz(examples: int):
    """Hypothesis settings: ``examples`` fixed examples, or GANZOO_FUZZ_EXAMPLES random ones."""
    return settings(
        max_examples=EXAMPLES or examples,
        derandomize=not EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
        ],
    )


TALLY = {"tried": 0, "tracebacks": 0}


def check(args: list[str]) -> None:
    TALLY["tried"] += 1
    result = CliRunner().invoke(cli, args, prog_name="ganzoo")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        TALLY["tracebacks"] += 1
        details = "".join(traceback.format_exception(*result.exc_info))
        pytest.fail(f"ganzoo {args} raised an unhandled exception:\n{details}")
    assert result.exit_code in (0, 1, 2), (args, result.exit_code, result.output)
    event(f"exit {result.exit_code}")  # pytest --hypothesis-show-statistics shows how many passed validation
    assert "Traceback" not in result.output, (args, result.output)


class _StopBeforeEvaluating(Exception):
    """Raised where the bench would start its FID evaluations: every input check is behind it."""


class _NoEvaluation:
    def __init__(self, *args, **kwargs) -> None:
        raise _StopBeforeEvaluating


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A working directory with a tiny run, damaged files, a few images; the costly parts stubbed out."""
    root = tmp_path_factory.mktemp("fuzz")
    registry.reset()
    run = ganzoo.train(
        steps=2,
        model="dcgan",
        out=str(root / "run"),
        overrides=["generator_width=4", "discriminator_width=4"],
        batch_size=8,
        checkpoint_every=1,
        sample_every=0,
        log_every=1,
    ).directory
    shutil.copytree(run, root / "resumable")
    (root / "empty.pt").write_bytes(b"")
    (root / "random.pt").write_bytes(np.random.default_rng(0).bytes(4000))
    digits = ganzoo.load_dataset("mnist-10k:test").images[:8].numpy()
    np.savez(root / "digits.npz", images=digits)
    np.savez(root / "floats.npz", images=digits.astype(np.float32))
    (root / "pictures").mkdir()
    for index in range(4):
        Image.new("L", (20, 20), color=40 * index).save(root / "pictures" / f"{index}.png")

    real_run_benchmark = ganzoo.bench.run_benchmark
    real_load_image_source = ganzoo.commands.metrics.load_image_source

    def run_benchmark_until_evaluation(config, console=None):
        try:
            return real_run_benchmark(config, console=console)
        except _StopBeforeEvaluating:
            return {
                "reference_split": "mnist-10k:test",
                "n_fake": 2,
                "feature_extractor": {"name": config.features},
                "models": [],
                "floor": {"fid": 0.0, "kid": 0.0},
                "seeds": [0],
            }

    def at_most_64_images(spec, n=None, *args, **kwargs):
        return real_load_image_source(spec, 64 if n is None else min(n, 64), *args, **kwargs)

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network in the fuzz test")

    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        for name in [n for n in os.environ if n.startswith("GANZOO_")]:
            patch.delenv(name)
        patch.setenv("XDG_CACHE_HOME", str(root / "cache"))
        patch.setenv("COLUMNS", "120")
        patch.setattr(urllib.request, "urlopen", offline)
        patch.setattr(Trainer, "run", lambda self: Run(self.directory, self.step, {}))
        patch.setattr(ganzoo.bench, "FidEvaluator", _NoEvaluation)
        patch.setattr(ganzoo.bench, "run_benchmark", run_benchmark_until_evaluation)
        patch.setattr(ganzoo.commands.metrics, "load_image_source", at_most_64_images)
        yield root
    registry.reset()
    if os.environ.get("GANZOO_FUZZ_REPORT"):
        Path(os.environ["GANZOO_FUZZ_REPORT"]).write_text(json.dumps(TALLY) + "\n")


DATASET_OPTIONS = {
    "--data-dir": pick(".", "absent", "empty.pt", "pictures"),
    "--image-size": NUMBER,
    "--channels": pick("1", "3", "2", "0"),
    "--strict": None,
    "--no-download": None,
}
RUN_FILES = pick(
    "run",
    "run/generator.pt",
    "run/checkpoints/step_000002.pt",
    "empty.pt",
    "random.pt",
    "absent",
    "pictures",
    ".",
    "mnist-10k",
)
IMAGE_SOURCES = pick(
    "mnist-10k:test",
    "mnist-10k:train",
    "mnist-10k",
    "run",
    "run/generator.pt",
    "digits.npz",
    "floats.npz",
    "absent.npz",
    "random.pt",
    "empty.pt",
    "folder:pictures",
    "pictures",
    "mnist:test",
    "nosuch:test",
    "./absent",
    "folder:",
)

TRAIN = command_line(
    "train",
    [],
    {
        "--model": pick(*MODELS),
        "--dataset": pick(*DATASETS),
        "--steps": NUMBER,
        "--batch-size": NUMBER,
        "--out": pick("runs/new", "run", "resumable", "pictures", "empty.pt", "", "."),
        "--seed": NUMBER,
        "--set": ASSIGNMENT,
        "--resume": pick("resumable", "run", "absent", "pictures", "empty.pt"),
        "--overwrite": None,
        "--device": pick(*DEVICES),
        "--compile": None,
        "--no-ema": None,
        "--ema-decay": NUMBER,
        "--log-every": NUMBER,
        "--sample-every": NUMBER,
        "--checkpoint-every": NUMBER,
        "--keep-checkpoints": NUMBER,
        "--no-progress": None,
        **DATASET_OPTIONS,
    },
)
SAMPLE = command_line(
    "sample",
    [RUN_FILES],
    {
        "--n": NUMBER,
        "--grid": GRID,
        "--output": pick("out.png", "out.npz", "outdir", "absent/dir/x.png", "digits.npz"),
        "--seed": NUMBER,
        "--format": pick("grid", "npz", "png-dir", "jpeg"),
        "--overwrite": None,
        "--device": pick(*DEVICES),
    },
)
FID = command_line(
    "fid",
    [IMAGE_SOURCES, IMAGE_SOURCES],
    {
        "--features": pick("lenet-mnist", "lenet", "inception", "nosuch"),
        "--n": NUMBER,
        "--seed": NUMBER,
        "--inception-weights": pick("absent.pth", "random.pt", "empty.pt", "pictures"),
        "--kid-subsets": NUMBER,
        "--kid-subset-size": NUMBER,
        "--device": pick(*DEVICES),
        "--json": None,
        **DATASET_OPTIONS,
    },
)
BENCH = command_line(
    "bench",
    [],
    {
        "--model": pick(*MODELS),
        "--all": None,
        "--dataset": pick(*DATASETS),
        "--steps": NUMBER,
        "--time-budget": pick("5m", "90s", "1.5h", "0", "-1", "10x", "1e3"),
        "--seeds": NUMBER,
        "--eval-every": NUMBER,
        "--n-eval": NUMBER,
        "--features": pick("lenet-mnist", "lenet", "inception", "nosuch"),
        "--out": pick("bench/a", "run", "empty.pt"),
        "--set": ASSIGNMENT,
        "--device": pick(*DEVICES),
        "--quick": None,
    },
)
INFO = command_line(
    "info",
    [pick(*MODELS)],
    {
        "--image-shape": pick(
            "1x28x28", "3x32x32", "1x64x64", "1x99x99", "28x28", "0x28x28", "1,28,28", "-1x28x28"
        ),
        "--json": None,
    },
)
LISTINGS = st.one_of(
    command_line("list", [], {"--json": None}),
    command_line("plugins", [], {"--json": None}),
    command_line(
        "datasets", [], {"--data-dir": DATASET_OPTIONS["--data-dir"], "--no-download": None, "--json": None}
    ),
    st.lists(JUNK_ARGUMENT, max_size=3),
)


COMMAND_LINES = {
    "train": TRAIN,
    "sample": SAMPLE,
    "fid": FID,
    "bench": BENCH,
    "info": INFO,
    "other": LISTINGS,
}


@pytest.mark.parametrize("command", COMMAND_LINES)
@fuzz(45)
@given(data=st.data())
def test_no_command_line_ends_in_a_traceback(workspace, command, data):
    check(data.draw(COMMAND_LINES[command], label="args"))


def test_the_stubs_leave_the_checks_in_place(workspace):
    """The fuzz tests could pass vacuously if the stubs swallowed errors: a bad value still fails."""
    for args, code in [
        (["train", "--set", "generator_lr=-1", "--out", "runs/x"], 2),
        (["bench", "--model", "dcgan", "--dataset", "mnist-10k:test"], 2),
        (["fid", "digits.npz", "floats.npz"], 2),
        (["train", "--dataset", "mnist", "--out", "runs/y"], 1),
    ]:
        result = CliRunner().invoke(cli, args, prog_name="ganzoo")
        assert result.exit_code == code and isinstance(result.exception, SystemExit), (args, result.output)
    accepted = CliRunner().invoke(
        cli, ["train", "--out", "runs/z", "--set", "generator_width=4", "--steps", "3"]
    )
    assert accepted.exit_code == 0 and Path("runs/z/config.json").is_file(), accepted.output


# -- the hostile round (issue 15) ----------------------------------------------------------------------------

HUGE = ["1000000000", "99999999999999999999", "1e400", "2147483648", "4096", "100000x100000", "65536x1"]
NEGATIVE = ["-1", "-50", "-0", "-1e3", "-2x4", "-inf"]
WRONG_TYPE = ["abc", "1.5", "0x10", "[1]", "{}", "true", "none", "", " "]
MARKUP = ["r[/x]", "x[bold red]y", "[link=file:///etc]z[/link]", "a[/]b", "[red]", "\\[x]"]
ODD = ["caf\udce9", "tab\there", "new\nline", "\u202eevil", "..", "~", " lead", "ünï", "emoji🙂", "-"]
HOSTILE_VALUE = st.sampled_from(HUGE + NEGATIVE + WRONG_TYPE + MARKUP + ODD)
HOSTILE_NAME = st.builds(
    "{}{}{}".format,
    st.sampled_from(["", "runs/", "new/"]),
    st.sampled_from(MARKUP + ODD),
    st.sampled_from(["", ".png", ".npz", ".pt", "/x.png"]),
)
HOSTILE_PATH = st.one_of(
    HOSTILE_NAME, st.sampled_from(["m[bold]run", "caf\udce9run", "d[/x].npz", "pics[bold red]"])
)


def hostile(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(HOSTILE_VALUE, strategy)


@pytest.fixture(scope="module")
def hostile_workspace(workspace):
    """The workspace, plus a run, an .npz and an image folder whose names are markup or odd bytes."""
    for name in ("m[bold]run", "caf\udce9run"):
        shutil.copytree(workspace / "run", workspace / name)
        (workspace / name / ".lock").unlink(missing_ok=True)
    (workspace / "d[").mkdir()
    shutil.copy(workspace / "digits.npz", workspace / "d[" / "x].npz")
    pictures = workspace / "pics[bold red]"
    (pictures / "sub[" / "z]").mkdir(parents=True)
    for index in range(4):
        Image.new("L", (20, 20), color=40 * index).save(pictures / f"{index}.png")
    (pictures / "sub[" / "z]" / "bad.png").write_bytes(b"not a png")
    return workspace


HOSTILE_COMMAND_LINES = {
    "train": command_line(
        "train",
        [],
        {
            "--out": HOSTILE_PATH,
            "--steps": hostile(st.just("3")),
            "--seed": HOSTILE_VALUE,
            "--batch-size": HOSTILE_VALUE,
            "--dataset": hostile(st.sampled_from(["folder:pics[bold red]", "folder:caf\udce9", "mnist-10k"])),
            "--image-size": HOSTILE_VALUE,
            "--set": st.builds("{}={}".format, st.sampled_from(HYPERPARAMETERS), HOSTILE_VALUE),
            "--resume": hostile(st.sampled_from(["m[bold]run", "caf\udce9run"])),
            "--keep-checkpoints": HOSTILE_VALUE,
            "--no-progress": None,
        },
    ),
    "sample": command_line(
        "sample",
        [hostile(st.sampled_from(["run", "m[bold]run", "caf\udce9run"]))],
        {
            "--n": HOSTILE_VALUE,
            "--grid": HOSTILE_VALUE,
            "--output": HOSTILE_PATH,
            "--format": pick("grid", "npz", "png-dir"),
            "--overwrite": None,
            "--seed": HOSTILE_VALUE,
        },
    ),
    "fid": command_line(
        "fid",
        [hostile(st.sampled_from(["d[/x].npz", "folder:pics[bold red]", "run"])), st.just("digits.npz")],
        {"--n": HOSTILE_VALUE, "--seed": HOSTILE_VALUE, "--kid-subset-size": HOSTILE_VALUE, "--json": None},
    ),
    "bench": command_line(
        "bench",
        [],
        {"--model": pick(*MODELS), "--steps": HOSTILE_VALUE, "--out": HOSTILE_PATH, "--seeds": HOSTILE_VALUE},
    ),
}


@pytest.mark.parametrize("command", HOSTILE_COMMAND_LINES)
@fuzz(40)
@given(data=st.data())
def test_no_hostile_command_line_ends_in_a_traceback(hostile_workspace, command, data):
    check(data.draw(HOSTILE_COMMAND_LINES[command], label="args"))


JSON_HOSTILE = st.sampled_from(
    [
        10**30,
        10**12,
        -50,
        -1,
        0,
        1.5,
        float("inf"),
        float("nan"),
        "0",
        "64",
        "r[/x]",
        "caf\udce9",
        "",
        [1],
        [],
        {},
        {"a": 1},
        None,
        True,
        False,
    ]
)
TENSOR_HOSTILE = st.sampled_from(
    [
        torch.zeros(1),
        torch.tensor(-1),
        torch.tensor(10**9),
        torch.zeros(3, 3, dtype=torch.float64),
        torch.zeros(0, dtype=torch.uint8),
        torch.arange(5),
    ]
)
TRAIN_FIELD_NAMES = [f.name for f in dataclasses.fields(TrainConfig)]
RUN_FILE_FIELDS = st.one_of(
    st.tuples(st.just("config"), st.sampled_from([*TRAIN_FIELD_NAMES, "nosuch"]), JSON_HOSTILE),
    st.tuples(
        st.just("config-top"),
        st.sampled_from(["placement", "format_version", "image_shape", "model"]),
        JSON_HOSTILE,
    ),
    st.tuples(
        st.just("config-missing"), st.sampled_from(["model", "dataset", "seed", "overrides"]), st.none()
    ),
    st.tuples(st.just("metrics"), st.sampled_from(["step", "d_loss", "train_seconds"]), JSON_HOSTILE),
    st.tuples(
        st.just("checkpoint"),
        st.sampled_from(
            [
                "step",
                "train_seconds",
                "world_size",
                "sampler.position",
                "sampler.permutation",
                "sampler.generator",
                "rng.torch",
                "rng.numpy_keys",
                "rng.numpy_position",
                "rng.python",
                "generator",
                "ema_generator",
                "optimizer_generator",
                "optimizer_generator.param_groups",
                "optimizer_discriminator.state",
            ]
        ),
        st.one_of(JSON_HOSTILE, TENSOR_HOSTILE),
    ),
)


def _edit_run(run: Path, where: str, field: str, value) -> None:
    if where.startswith("config"):
        config = json.loads((run / "config.json").read_text())
        if where == "config":
            config["train"][field] = value
        elif where == "config-top":
            config[field] = value
        else:
            del config["train"][field]
        (run / "config.json").write_text(json.dumps(config))
    elif where == "metrics":
        with open(run / "metrics.jsonl", "a") as handle:
            handle.write(json.dumps({"step": 1, field: value}) + "\n")
    else:
        path = run / "checkpoints" / "step_000002.pt"
        state = torch.load(path, weights_only=True)
        *parents, last = field.split(".")
        target = state
        for name in parents:
            target = target[name]
        target[last] = value
        torch.save(state, path)


@fuzz(30)
@given(edit=RUN_FILE_FIELDS)
def test_no_edited_run_file_ends_in_a_traceback(hostile_workspace, edit):
    copy = hostile_workspace / "edited"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(hostile_workspace / "run", copy)
    (copy / ".lock").unlink(missing_ok=True)
    _edit_run(copy, *edit)
    check(["train", "--resume", "edited", "--steps", "3", "--no-progress"])
