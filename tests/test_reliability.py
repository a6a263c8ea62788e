"""The rows of docs/RELIABILITY.md that no other test file covers: bad input on the command line, damaged run
files, a full disk or read-only directory while a checkpoint is written, SIGKILL in the middle of a write,
plugins whose networks misbehave, the guard that no data file is ever unpickled or executed, and a check
that every row of the table names tests that exist."""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import click
import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from test_feature_extractors import MARKER_ENV, _RunsCodeWhenUnpickled
from torch import nn

import ganzoo
from ganzoo import checkpoint as ckpt
from ganzoo import registry
from ganzoo.cli import GanzooGroup, cli
from ganzoo.engine import TrainConfig, Trainer
from ganzoo.errors import (
    CheckpointError,
    DatasetError,
    GanzooError,
    PluginError,
    UnknownNameError,
    UsageError,
)
from ganzoo.metrics import inception
from ganzoo.registry import Zoo

REPOSITORY = Path(__file__).resolve().parents[1]
TINY = ["--set", "generator_width=8", "--set", "discriminator_width=8", "--batch-size", "16", "--no-progress"]


def tiny_config(out: Path, **changes) -> dict:
    config = dict(
        model="dcgan",
        overrides=["generator_width=8", "discriminator_width=8"],
        batch_size=16,
        sample_every=0,
        checkpoint_every=5,
        log_every=5,
        progress=False,
        out=str(out),
    )
    return {**config, **changes}


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> Path:
    """A tiny dcgan run with checkpoints at steps 5 and 10; tests that change it work on a copy."""
    return ganzoo.train(steps=10, **tiny_config(tmp_path_factory.mktemp("trained") / "run")).directory


@pytest.fixture
def run_copy(trained_run, tmp_path) -> Path:
    return Path(shutil.copytree(trained_run, tmp_path / "run"))


def invoke(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args], prog_name="ganzoo")


def assert_one_error_line(result, exit_code: int, fragment: str) -> None:
    """The exit status, exactly one ``Error:`` line holding ``fragment``, and no traceback."""
    assert result.exit_code == exit_code, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    assert fragment in errors[0], result.output
    assert "Traceback" not in result.output


# -- the command line ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def picture_folder(tmp_path_factory) -> Path:
    """Four small grayscale PNGs: a folder dataset a test can resize to any square size."""
    folder = tmp_path_factory.mktemp("pictures")
    for index in range(4):
        Image.new("L", (20, 20), color=index * 60).save(folder / f"{index}.png")
    return folder


CLI_ROWS = {
    "unknown-model": (["train", "--model", "dcgn", "--steps", "1"], "Did you mean 'dcgan'"),
    "unknown-dataset": (["train", "--dataset", "mnsit", "--steps", "1"], "Did you mean 'mnist'"),
    "unknown-extractor": (
        ["fid", "mnist-10k:test", "mnist-10k:train", "--features", "lenet-mnst"],
        "Did you mean 'lenet-mnist'?",
    ),
    "unknown-loss": (["train", "--set", "loss=hinj", "--steps", "1"], "Available losses: hinge"),
    "steps-0": (["train", "--steps", "0"], "'--steps': 0 is not in the range x>=1"),
    "steps-not-a-number": (["train", "--steps", "many"], "'many' is not a valid integer"),
    "batch-size-0": (["train", "--batch-size", "0", "--steps", "1"], "'--batch-size': 0 is not in the range"),
    "batch-larger-than-the-dataset": (
        ["train", "--batch-size", "20000", "--steps", "1"],
        "larger than the dataset",
    ),
    "negative-learning-rate": (
        ["train", "--set", "generator_lr=-0.1", "--steps", "1"],
        "generator_lr must be a positive finite number",
    ),
    "infinite-learning-rate": (
        ["train", "--set", "discriminator_lr=1e400", "--steps", "1"],
        "discriminator_lr must be a positive finite",
    ),
    "nan-penalty-weight": (
        ["train", "--set", "penalty_weight=nan", "--steps", "1"],
        "penalty_weight must be",
    ),
    "set-without-value": (["train", "--set", "generator_lr", "--steps", "1"], "--set expects key=value"),
    "seed-out-of-range": (["train", "--seed", "99999999999999999999", "--steps", "1"], "'--seed'"),
    "grid-0x4": (["sample", "{run}", "--grid", "0x4"], "--grid expects ROWSxCOLUMNS with positive numbers"),
    "sample-n-0": (["sample", "{run}", "--n", "0"], "'--n': 0 is not in the range x>=1"),
    "fid-n-0": (["fid", "mnist-10k:test", "mnist-10k:train", "--n", "0"], "--n must be a positive number"),
    "sample-unknown-device": (["sample", "{run}", "--device", "tpu"], "'tpu' is not a torch device"),
    "image-size-the-model-cannot-build": (
        ["train", "--dataset", "folder:{pictures}", "--image-size", "48", "--steps", "1"],
        "cannot build images of shape 1x48x48",
    ),
    "resume-with-other-settings": (
        ["train", "--resume", "{run}", "--steps", "20", "--model", "vanilla"],
        "--model cannot be combined",
    ),
    "n-conflicts-with-grid": (["sample", "{run}", "--n", "5", "--grid", "4x4"], "conflicts with --grid 4x4"),
    "steps-and-time-budget": (
        ["bench", "--model", "dcgan", "--steps", "5", "--time-budget", "5m"],
        "exclude each other",
    ),
}


@pytest.mark.parametrize("row", CLI_ROWS, ids=list(CLI_ROWS))
def test_bad_command_line_input_exits_2_with_one_error_line(row, trained_run, picture_folder, tmp_path):
    args, fragment = CLI_ROWS[row]
    out = tmp_path / "new-run"
    args = [a.format(run=trained_run, pictures=picture_folder) for a in args]
    if args[0] == "train" and "--resume" not in args:
        args = ["train", "--out", str(out), *TINY, *args[1:]]  # the row's own values come last and win
    if args[0] == "sample":
        args += ["-o", str(tmp_path / "samples.png")]
    assert_one_error_line(invoke(*args), 2, fragment)
    assert not out.exists() and not (tmp_path / "samples.png").exists()  # a refused command writes nothing


def test_the_exit_codes_of_every_kind_of_failure():
    @click.group(cls=GanzooGroup)
    def group() -> None:
        """A group like ganzoo's, with a command that fails in the way it is told."""

    failures = {
        "usage": UsageError("bad value"),
        "plugin": PluginError("plugin 'x' broke"),
        "checkpoint": CheckpointError("damaged"),
        "dataset": DatasetError("not here"),
        "disk": OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/runs/a/checkpoints/step_000010.pt"),
    }

    @group.command()
    @click.argument("kind")
    def fail(kind: str) -> None:
        if kind != "nothing":
            raise failures[kind]

    expected = {"usage": 2, "plugin": 1, "checkpoint": 1, "dataset": 1, "disk": 1}
    for kind, code in expected.items():
        result = CliRunner().invoke(group, ["fail", kind])
        assert_one_error_line(result, code, "" if kind == "disk" else str(failures[kind]))
    disk = CliRunner().invoke(group, ["fail", "disk"])
    assert "Error: No space left on device (/runs/a/checkpoints/step_000010.pt)\n" in disk.output
    assert_one_error_line(CliRunner().invoke(group, ["fail", "nothing", "--bogus"]), 2, "No such option")
    assert CliRunner().invoke(group, ["fail", "nothing"]).exit_code == 0


def test_unknown_names_are_listed_in_plain_english():
    assert "Available losses: a, b." in str(UnknownNameError("loss", "c", ["a", "b"]))
    assert "Available penalties: r1." in str(UnknownNameError("penalty", "r2", ["r1"]))
    assert "Available feature extractors: (none)." in str(UnknownNameError("feature extractor", "x", []))


# -- files ---------------------------------------------------------------------------------------------------


def test_resume_refuses_a_checkpoint_of_another_image_shape(run_copy):
    state = torch.load(ckpt.checkpoint_path(run_copy, 10), weights_only=True)
    state["image_shape"] = [1, 32, 32]
    torch.save(state, ckpt.checkpoint_path(run_copy, 10))
    with pytest.raises(CheckpointError, match=r"at \[1, 32, 32\], not 'dcgan' at \[1, 28, 28\]"):
        ganzoo.train(steps=15, resume=run_copy)


def test_a_run_directory_from_a_newer_format_is_refused(run_copy):
    config = json.loads((run_copy / "config.json").read_text())
    (run_copy / "config.json").write_text(json.dumps({**config, "format_version": ckpt.FORMAT_VERSION + 1}))
    before = {p.name: p.read_bytes() for p in (run_copy / "checkpoints").iterdir()}
    assert_one_error_line(
        invoke("train", "--resume", run_copy, "--steps", "20"), 1, "written by a newer ganzoo"
    )
    assert {p.name: p.read_bytes() for p in (run_copy / "checkpoints").iterdir()} == before


@pytest.mark.parametrize(
    "content, fragment",
    [
        (b'{"format_version": 1, "train": {"model": "dcg', "cannot read"),
        (b"\x00\xff\x13binary", "cannot read"),
        (b"[1, 2, 3]", "holds a JSON list"),
        (b'{"format_version": 1}', "lacks the run's training settings"),
    ],
    ids=["truncated-json", "binary", "json-list", "no-train-section"],
)
def test_an_unreadable_run_config_is_a_clear_error(run_copy, content, fragment):
    (run_copy / "config.json").write_bytes(content)
    assert_one_error_line(invoke("train", "--resume", run_copy, "--steps", "20"), 1, fragment)


def test_a_run_stopped_before_its_first_checkpoint_says_how_to_start_it_again(run_copy):
    for _, path in ckpt.list_checkpoints(run_copy):
        path.unlink()
    result = invoke("train", "--resume", run_copy, "--steps", "20")
    assert_one_error_line(result, 1, "stopped before its first checkpoint")
    assert f"--out {run_copy} --overwrite" in result.output


def test_a_damaged_metrics_file_does_not_stop_a_resume(run_copy):
    with open(run_copy / "metrics.jsonl", "a") as handle:
        handle.write('{"step": 11, "d_lo')  # a line cut short by a full disk
    result = invoke("train", "--resume", run_copy, "--steps", "12", "--no-progress")
    assert result.exit_code == 0, result.output


def test_a_run_config_edited_with_values_of_the_wrong_type_is_a_clear_error(run_copy):
    config = json.loads((run_copy / "config.json").read_text())
    config["train"]["log_every"] = "often"
    (run_copy / "config.json").write_text(json.dumps(config))
    result = invoke("train", "--resume", run_copy, "--steps", "12")
    assert_one_error_line(result, 1, "config.json")


def _edit_final_generator(run: Path, **changes) -> Path:
    state = torch.load(run / ckpt.FINAL_GENERATOR, weights_only=True)
    state.update(changes)
    path = run / "edited.pt"
    torch.save(state, path)
    return path


@pytest.mark.parametrize(
    "changes, fragment",
    [
        ({"format_version": "1"}, "not a ganzoo checkpoint (no format_version)"),
        ({"model": "nosuchgan"}, "holds model 'nosuchgan', which no installed plugin provides"),
        ({"model": "vanilla"}, "the weights do not fit model 'vanilla' at 1x28x28"),
        ({"image_shape": [3, 32, 32]}, "the weights do not fit model 'dcgan' at 3x32x32"),
        ({"hyperparameters": {"latent_dim": -5}}, "latent_dim must be positive"),
        ({"hyperparameters": {"from_the_future": 1}}, "unexpected keyword argument 'from_the_future'"),
        ({"ema_generator": "weights"}, "the weights do not fit"),
    ],
    ids=[
        "version-not-int",
        "unknown-model",
        "another-model",
        "another-shape",
        "impossible-hyperparameters",
        "unknown-hyperparameter",
        "weights-not-a-dict",
    ],
)
def test_a_checkpoint_with_foreign_or_damaged_contents_is_a_clear_error(
    run_copy, changes, fragment, tmp_path
):
    path = _edit_final_generator(run_copy, **changes)
    assert_one_error_line(invoke("sample", path, "-o", tmp_path / "samples.png"), 1, fragment)
    assert not (tmp_path / "samples.png").exists()


# -- faults while writing ------------------------------------------------------------------------------------


def _fail_writes_of(monkeypatch, name_part: str, error_number: int, where: str) -> None:
    """Make writing any file whose name holds ``name_part`` fail with ``error_number``: half-way through the
    bytes (a disk that fills up), on opening it (a read-only directory) or on the final rename."""
    real_save, real_replace = torch.save, os.replace

    def failure(path) -> OSError:
        return OSError(error_number, os.strerror(error_number), str(path))

    class FillsUp:
        """A file on a disk with 1000 bytes free: torch.save itself meets the OSError, as on a real disk."""

        def __init__(self, handle) -> None:
            self.handle, self.free = handle, 1000

        def write(self, data) -> int:
            if len(data) > self.free:
                self.handle.write(bytes(data[: self.free]))
                raise failure(self.handle.name)
            self.free -= len(data)
            return self.handle.write(data)

        def flush(self) -> None:
            self.handle.flush()

    def save(obj, handle, *args, **kwargs):
        if name_part in getattr(handle, "name", ""):
            handle = FillsUp(handle)
        return real_save(obj, handle, *args, **kwargs)

    def open_for_writing(path, mode="r", *args, **kwargs):
        if name_part in str(path) and "w" in mode:
            raise failure(path)
        return open(path, mode, *args, **kwargs)

    def replace(source, target, *args, **kwargs):
        if name_part in str(target):
            raise failure(target)
        return real_replace(source, target, *args, **kwargs)

    if where == "write":
        monkeypatch.setattr(torch, "save", save)
    elif where == "open":
        monkeypatch.setattr(
            ckpt, "open", open_for_writing, raising=False
        )  # shadows the builtin in that module
    else:
        monkeypatch.setattr(os, "replace", replace)


@pytest.mark.parametrize(
    "error_number, where",
    [(errno.ENOSPC, "write"), (errno.EROFS, "open"), (errno.EACCES, "open"), (errno.ENOSPC, "rename")],
    ids=["disk-full-mid-write", "read-only-filesystem", "read-only-directory", "disk-full-on-rename"],
)
def test_a_failed_checkpoint_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch, error_number, where):
    # Permissions do not stop root (these tests run as root in CI), so the failure is injected instead.
    out = tmp_path / "run"
    trainer = Trainer(TrainConfig(**tiny_config(out), steps=15))
    with monkeypatch.context() as patch:
        _fail_writes_of(patch, "step_000010", error_number, where)
        with pytest.raises(
            CheckpointError, match=f"cannot write .*step_000010.pt: {os.strerror(error_number)}"
        ):
            trainer.run()
    assert [step for step, _ in ckpt.list_checkpoints(out)] == [5]
    assert ckpt.load_checkpoint(ckpt.checkpoint_path(out, 5))["step"] == 5
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step_000005.pt"]  # no temp file left
    run = ganzoo.train(steps=15, resume=out)  # space freed: the run continues from step 5
    assert run.step == 15 and ckpt.load_checkpoint(ckpt.checkpoint_path(out, 15))["step"] == 15


def test_the_cli_reports_a_full_disk_in_one_line_and_how_to_go_on(tmp_path, monkeypatch):
    _fail_writes_of(monkeypatch, "step_000010", errno.ENOSPC, "write")
    out = tmp_path / "run"
    result = invoke(
        "train", "--steps", "10", "--out", out, "--checkpoint-every", "5", "--sample-every", "0", *TINY
    )
    assert_one_error_line(result, 1, "No space left on device. Nothing was replaced")
    assert "resume the run" in result.output
    assert ckpt.load_checkpoint(ckpt.checkpoint_path(out, 5))["step"] == 5


def test_a_write_on_a_read_only_file_system_names_the_file_asked_for(tmp_path, monkeypatch):
    target = tmp_path / "metrics.jsonl"
    target.write_text("kept\n")

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(ckpt, "open", read_only, raising=False)
    monkeypatch.setattr(Path, "unlink", read_only)  # on a read-only file system even removing a file fails
    with pytest.raises(OSError, match="Read-only file system") as raised:
        ckpt.atomic_write_bytes(target, lambda handle: handle.write(b"new"))
    assert raised.value.filename == str(target) and raised.value.errno == errno.EROFS
    assert target.read_text() == "kept\n"


KILLED_WRITER = textwrap.dedent(
    """
    import io, os, signal, sys
    from pathlib import Path
    import torch
    from ganzoo import checkpoint as ckpt

    path = Path(sys.argv[1])
    state = ckpt.load_checkpoint(path)
    real_save = torch.save

    def write_half_then_die(obj, handle):
        buffer = io.BytesIO()
        real_save(obj, buffer)
        handle.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
        handle.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    torch.save = write_half_then_die
    ckpt.save_checkpoint(path, {**state, "step": 999})
    """
)


def test_sigkill_in_the_middle_of_a_checkpoint_write_leaves_the_old_file(run_copy):
    path = ckpt.checkpoint_path(run_copy, 10)
    before = path.read_bytes()
    child = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(path)], capture_output=True, timeout=120)
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert path.read_bytes() == before and ckpt.load_checkpoint(path)["step"] == 10
    leftovers = [p.name for p in (run_copy / "checkpoints").iterdir() if p.name.startswith(".")]
    assert len(leftovers) == 1 and leftovers[0].startswith(".step_000010.pt.tmp-")
    assert ckpt.latest_checkpoint(run_copy)[1] == path
    ckpt.prune_checkpoints(run_copy, keep=3)  # the writer is dead: its temp file goes
    assert sorted(p.name for p in (run_copy / "checkpoints").iterdir()) == [
        "step_000005.pt",
        "step_000010.pt",
    ]


def test_pruning_keeps_the_temp_file_of_a_writer_that_is_alive(run_copy):
    mine = run_copy / "checkpoints" / f".step_000015.pt.tmp-{os.getpid()}"
    mine.write_bytes(b"being written")
    ckpt.prune_checkpoints(run_copy, keep=3)
    assert mine.exists()


# -- plugins whose networks misbehave ------------------------------------------------------------------------


class _TinyGenerator(ganzoo.Generator):
    def __init__(self, image_shape, hp):
        super().__init__(hp.latent_dim, image_shape)
        self.net = nn.Linear(hp.latent_dim, 14 * 14)

    def forward(self, z):
        return self.net(z).view(-1, 1, 14, 14)  # declares 1x28x28, draws 1x14x14


class _TinyDiscriminator(ganzoo.Discriminator):
    def __init__(self, image_shape, hp):
        super().__init__(image_shape)
        self.net = nn.Linear(28 * 28, 1)

    def forward(self, images):
        return self.net(images.flatten(1)).flatten()


class _CrashingGenerator(_TinyGenerator):
    def forward(self, z):
        raise RuntimeError("a bug in the plugin's forward\nwith C++ frames after it")


def _crash_on_build(image_shape, hp):
    raise IndexError("list index out of range")


def _plugin(name: str, **spec_changes) -> type:
    spec = ganzoo.ModelSpec(
        name=name,
        summary="",
        paper="",
        build_generator=_TinyGenerator,
        build_discriminator=_TinyDiscriminator,
        defaults=ganzoo.Hyperparameters(latent_dim=4, batch_size=4),
    )
    spec = dataclasses.replace(spec, **spec_changes)

    @ganzoo.hookimpl
    def register_models(register):
        register(spec)

    return type(f"{name}-plugin", (), {"register_models": staticmethod(register_models)})


@pytest.mark.parametrize(
    "spec_changes, fragment",
    [
        ({}, "generator output has shape (1, 14, 14), but it declares image_shape (1, 28, 28)"),
        ({"build_generator": _CrashingGenerator}, "RuntimeError: a bug in the plugin's forward"),
        ({"build_generator": _crash_on_build}, "failed to build its networks at 1x28x28: IndexError"),
    ],
    ids=["output-shape-differs", "forward-raises", "build-raises"],
)
def test_a_model_whose_networks_misbehave_is_refused_naming_its_plugin(
    fresh_zoo, monkeypatch, tmp_path, spec_changes, fragment
):
    monkeypatch.setattr(registry, "_zoo", Zoo(extra_plugins=[_plugin("oddgan", **spec_changes)]).load())
    result = invoke("train", "--model", "oddgan", "--steps", "1", "--out", tmp_path / "run", "--no-progress")
    assert_one_error_line(result, 1, "model 'oddgan' from plugin 'oddgan-plugin'")
    assert fragment in result.output and not (tmp_path / "run").exists()
    info = invoke(
        "info", "oddgan"
    )  # `info` runs the networks too, so it never shows a model that cannot train
    assert_one_error_line(info, 1, fragment)
    # The other models keep working.
    assert ganzoo.train(steps=1, **tiny_config(tmp_path / "dcgan", log_every=1)).step == 1


# -- nothing from a file is ever run -------------------------------------------------------------------------

UNSAFE_CALLS = {
    r"\bpickle\.loads?\(": "pickle.load",
    r"\b(?:cPickle|dill|joblib|shelve|marshal)\.": "a module that unpickles or unmarshals",
    r"\byaml\.(?:unsafe_)?load\(": "yaml.load",
    r"allow_pickle\s*=\s*True": "allow_pickle=True",
    r"(?<![\w.])eval\(": "eval(",
    r"(?<![\w.])exec\(": "exec(",
    r"(?<![\w.])__import__\(": "__import__(",
}


def _calls(source: str, function: str) -> list[str]:
    """The text of every call of ``function`` in ``source``, up to its closing parenthesis."""
    calls = []
    for match in re.finditer(re.escape(function) + r"\(", source):
        depth, end = 0, match.end() - 1
        for end in range(match.end() - 1, len(source)):
            depth += {"(": 1, ")": -1}.get(source[end], 0)
            if depth == 0:
                break
        calls.append(source[match.start() : end + 1])
    return calls


def test_no_data_file_is_ever_unpickled_or_executed():
    files = sorted([*(REPOSITORY / "ganzoo").rglob("*.py"), *(REPOSITORY / "plugins").glob("*.py")])
    problems, torch_loads, numpy_loads = [], 0, 0
    for file in files:
        source = file.read_text()
        where = file.relative_to(REPOSITORY)
        for pattern, what in UNSAFE_CALLS.items():
            if re.search(pattern, source):
                problems.append(f"{where}: {what}")
        for call in _calls(source, "torch.load"):
            torch_loads += 1
            if not re.search(r"weights_only\s*=\s*True", call):
                problems.append(f"{where}: {call} without weights_only=True")
        for call in _calls(source, "np.load") + _calls(source, "numpy.load"):
            numpy_loads += 1
            if not re.search(r"allow_pickle\s*=\s*False", call):
                problems.append(f"{where}: {call} without allow_pickle=False")
    assert not problems, "\n".join(problems)
    assert (
        torch_loads >= 2 and numpy_loads >= 2
    )  # the scan found the loads it guards (checkpoints, weights, npz)


def test_inception_weights_holding_pickled_objects_are_refused_without_running_them(tmp_path, monkeypatch):
    # torch-fidelity, which reads these weights, calls a plain torch.load: ganzoo reads them safely first.
    monkeypatch.setenv(MARKER_ENV, str(tmp_path / "code-ran"))
    monkeypatch.setattr(inception, "torch_fidelity_installed", lambda: True)
    torch.save({"Conv2d_1a_3x3.conv.weight": _RunsCodeWhenUnpickled()}, tmp_path / "pt_inception.pth")
    with pytest.raises(GanzooError, match="refused without running anything"):
        inception.build_inception(tmp_path / "pt_inception.pth")
    assert not (tmp_path / "code-ran").exists()


# -- docs/RELIABILITY.md -------------------------------------------------------------------------------------

TEST_REFERENCE = re.compile(r"(tests/test_\w+\.py)::(\w+)(?:\[([\w-]+)\])?")


def test_every_row_of_the_reliability_table_names_tests_that_exist():
    document = (REPOSITORY / "docs" / "RELIABILITY.md").read_text()
    tables = document[document.index("## The command line") :]  # the exit-status table above has no tests
    headers = ("| bad", "| fault", "| plugin", "| guarantee", "|---")
    rows = [line for line in tables.splitlines() if line.startswith("|") and not line.startswith(headers)]
    assert len(rows) >= 40
    missing = [row[:60] for row in rows if not TEST_REFERENCE.search(row)]
    assert not missing, f"rows without a test: {missing}"
    for file, function, case in TEST_REFERENCE.findall(document):
        source = (REPOSITORY / file).read_text()
        assert re.search(rf"^def {function}\(", source, re.MULTILINE), f"{file}::{function} does not exist"
        assert not case or re.search(rf"[\"']{case}[\"']", source), (
            f"{file}::{function}[{case}]: no such case"
        )
