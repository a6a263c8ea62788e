"""Issue 15, items 2, 3 and 9: one process per run directory (an OS lock that dies with its process), a
run killed after its last checkpoint is finished by its resume, and no leftovers or dead ends: temp files
of dead writers, a directory killed before its config.json, a damaged newest checkpoint, more checkpoints
than kept, an interrupted bench."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

import ganzoo
from ganzoo import checkpoint as ckpt
from ganzoo.cli import cli
from ganzoo.engine import Trainer, TrainingInterrupted
from ganzoo.engine.rundir import LOCK_FILE

TINY_ARGS = [
    "--model",
    "dcgan",
    "--set",
    "generator_width=8",
    "--set",
    "discriminator_width=8",
    "--batch-size",
    "16",
]
TINY = dict(
    model="dcgan",
    overrides=["generator_width=8", "discriminator_width=8"],
    batch_size=16,
    sample_every=0,
    checkpoint_every=5,
    log_every=5,
    progress=False,
)
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> Path:
    return ganzoo.train(steps=10, out=str(tmp_path_factory.mktemp("procs") / "run"), **TINY).directory


@pytest.fixture
def run_copy(trained_run, tmp_path) -> Path:
    copy = Path(shutil.copytree(trained_run, tmp_path / "run"))
    (copy / LOCK_FILE).unlink(missing_ok=True)
    return copy


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], prog_name="ganzoo")


def ganzoo_train(*args) -> list[str]:
    return [sys.executable, "-m", "ganzoo", "train", *map(str, args), "--no-progress"]


def dead_pid() -> int:
    """The pid of a process that has ended."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


# -- item 2: one process per run directory -------------------------------------------------------------------


def test_a_second_process_is_refused_naming_the_first_and_a_sigkill_frees_the_run(tmp_path):
    run = tmp_path / "run"
    first = subprocess.Popen(
        ganzoo_train(
            "--out", run, "--steps", 10**6, *TINY_ARGS, "--checkpoint-every", "2", "--sample-every", "0"
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    try:
        deadline = time.monotonic() + 180
        while not ckpt.list_checkpoints(run):
            assert first.poll() is None, first.stderr.read()
            assert time.monotonic() < deadline, "the first run wrote no checkpoint in time"
            time.sleep(0.1)
        for second in (
            ganzoo_train("--resume", run, "--steps", "50"),
            ganzoo_train("--out", run, "--steps", "50", *TINY_ARGS, "--overwrite"),
            ganzoo_train("--out", run, "--steps", "50", *TINY_ARGS),
        ):
            result = subprocess.run(second, capture_output=True, text=True, timeout=300, env=ENV)
            assert result.returncode == 2, result.stderr
            error = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
            assert len(error) == 1 and "Traceback" not in result.stderr, result.stderr
            if "--out" in second and "--overwrite" not in second:
                assert "already exists" in error[0], error[0]
            else:
                assert f"is in use by another process (pid {first.pid})" in error[0], error[0]
            assert (run / "config.json").is_file() and ckpt.list_checkpoints(run)  # nothing was replaced
    finally:
        first.kill()
        first.wait(timeout=30)
    assert (run / LOCK_FILE).read_text().strip() == str(first.pid)  # the file stays; its lock died
    resumed = subprocess.run(
        ganzoo_train("--resume", run, "--steps", ckpt.list_checkpoints(run)[-1][0] + 2),
        capture_output=True,
        text=True,
        timeout=300,
        env=ENV,
    )
    assert resumed.returncode == 0, resumed.stderr


def test_metrics_are_not_duplicated_by_a_refused_second_process(run_copy):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from ganzoo.engine.rundir import hold; hold(sys.argv[1]); "
            "print('held', flush=True); time.sleep(120)",
            str(run_copy),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        before = (run_copy / "metrics.jsonl").read_text()
        result = invoke("train", "--resume", run_copy, "--steps", "15")
        assert result.exit_code == 2 and f"pid {holder.pid}" in result.output, result.output
        assert (run_copy / "metrics.jsonl").read_text() == before
    finally:
        holder.kill()
        holder.wait(timeout=30)


def test_a_file_system_without_locks_trains_and_says_so(tmp_path, monkeypatch):
    import errno
    import fcntl

    def no_locks(*args):
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(fcntl, "flock", no_locks)
    run = tmp_path / "run"
    result = invoke("train", "--out", run, "--steps", "2", *TINY_ARGS, "--no-progress", "--sample-every", "0")
    assert result.exit_code == 0, result.output
    assert "Warning: cannot lock" in result.output and "No locks available" in result.output


# -- item 3: a kill after the final checkpoint ---------------------------------------------------------------


def test_a_run_killed_after_its_final_checkpoint_is_finished_by_its_resume(run_copy):
    (run_copy / ckpt.FINAL_GENERATOR).unlink()
    (run_copy / "samples" / "step_000010.png").unlink()
    result = invoke("train", "--resume", run_copy, "--steps", "10", "--no-progress")
    assert result.exit_code == 0, result.output
    assert "Finishing" in result.output and "already at step" not in result.output
    assert ckpt.load_checkpoint(run_copy / ckpt.FINAL_GENERATOR)["step"] == 10
    assert (run_copy / "samples" / "step_000010.png").is_file()
    steps = [json.loads(line)["step"] for line in (run_copy / "metrics.jsonl").read_text().splitlines()]
    assert steps == [5, 10]
    again = invoke("train", "--resume", run_copy, "--steps", "10")
    assert again.exit_code == 2 and "already at step 10" in again.output  # now it is finished


def test_a_final_generator_of_an_older_step_is_rewritten(run_copy, trained_run):
    state = torch.load(run_copy / ckpt.FINAL_GENERATOR, weights_only=True)
    torch.save({**state, "step": 5}, run_copy / ckpt.FINAL_GENERATOR)
    result = invoke("train", "--resume", run_copy, "--steps", "10", "--no-progress")
    assert result.exit_code == 0, result.output
    rewritten = torch.load(run_copy / ckpt.FINAL_GENERATOR, weights_only=True)
    original = torch.load(trained_run / ckpt.FINAL_GENERATOR, weights_only=True)
    assert rewritten["step"] == 10
    for name, tensor in original["ema_generator"].items():
        assert torch.equal(rewritten["ema_generator"][name], tensor), name


# -- item 9: leftovers and dead ends -------------------------------------------------------------------------


def test_temp_files_of_dead_writers_are_removed_everywhere_in_the_run(run_copy):
    pid = dead_pid()
    leftovers = [
        run_copy / f".metrics.jsonl.tmp-{pid}",
        run_copy / f".generator.pt.tmp-{pid}",
        run_copy / "checkpoints" / f".step_000015.pt.tmp-{pid}",
    ]
    alive = run_copy / f".config.json.tmp-{os.getpid()}"
    for path in [*leftovers, alive]:
        path.write_bytes(b"half written")
    result = invoke("train", "--resume", run_copy, "--steps", "11", "--no-progress")
    assert result.exit_code == 0, result.output
    assert not any(path.exists() for path in leftovers)
    assert alive.exists()  # this process is alive: its file may be being written


def test_a_directory_killed_before_its_config_holds_nothing_and_can_be_trained_into(tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "samples").mkdir()
    (run / f".config.json.tmp-{dead_pid()}").write_bytes(b"{")
    resumed = invoke("train", "--resume", run, "--steps", "3")
    assert resumed.exit_code == 1 and "holds no run" in resumed.output and f"--out {run}" in resumed.output
    result = invoke("train", "--out", run, "--steps", "2", *TINY_ARGS, "--no-progress", "--sample-every", "0")
    assert result.exit_code == 0, result.output
    assert (run / "config.json").is_file() and not list(run.glob(".config.json.tmp-*"))


def test_a_directory_with_a_users_file_is_still_refused(tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "notes.txt").write_text("mine")
    result = invoke("train", "--out", run, "--steps", "2", *TINY_ARGS)
    assert result.exit_code == 2 and "already exists" in result.output
    assert (run / "notes.txt").read_text() == "mine"


def test_a_damaged_newest_checkpoint_is_named_set_aside_and_the_done_message_names_the_real_one(run_copy):
    newest = ckpt.checkpoint_path(run_copy, 10)
    newest.write_bytes(newest.read_bytes()[:500])
    result = invoke("train", "--resume", run_copy, "--steps", "12", "--no-progress")
    assert result.exit_code == 0, result.output
    warning = next(line for line in result.output.splitlines() if line.startswith("Warning:"))
    assert f"checkpoint {newest} is truncated" in warning, warning
    assert f"renamed to step_000010.pt.damaged; resuming from {ckpt.checkpoint_path(run_copy, 5)}" in warning
    assert (run_copy / "checkpoints" / "step_000010.pt.damaged").is_file()
    assert f"checkpoints    {ckpt.checkpoint_path(run_copy, 12)}\n" in result.output
    assert [step for step, _ in ckpt.list_checkpoints(run_copy)] == [5, 10, 12]


def test_no_more_checkpoints_than_kept_after_a_kill_between_write_and_prune(run_copy):
    for step in (1, 2, 3):  # as if killed after each write, before its pruning
        shutil.copy(ckpt.checkpoint_path(run_copy, 5), ckpt.checkpoint_path(run_copy, step))
    assert len(ckpt.list_checkpoints(run_copy)) == 5
    result = invoke("train", "--resume", run_copy, "--steps", "11", "--no-progress")
    assert result.exit_code == 0, result.output
    assert [step for step, _ in ckpt.list_checkpoints(run_copy)] == [5, 10, 11]  # keep_checkpoints 3


def test_an_interrupted_bench_says_how_to_go_on_and_restarts_into_its_own_directory(tmp_path, monkeypatch):
    from ganzoo.bench import BenchConfig, run_benchmark

    out = tmp_path / "bench"
    config = BenchConfig(
        models=["vanilla"],
        steps=4,
        eval_every=2,
        n_eval=200,
        seeds=1,
        out=out,
        overrides=["generator_width=8", "discriminator_width=8", "batch_size=16"],
    )
    real_run = Trainer.run

    def interrupted_after_a_checkpoint(self):
        self.save_checkpoint()
        raise TrainingInterrupted(
            f"interrupted by SIGINT at step 0; checkpoint saved to {self.directory}. Resume with: ganzoo train "
            f"--resume {self.directory} --steps 4",
            signal.SIGINT,
        )

    monkeypatch.setattr(Trainer, "run", interrupted_after_a_checkpoint)
    with pytest.raises(TrainingInterrupted) as stopped:
        run_benchmark(config)
    assert stopped.value.exit_code == 130
    message = str(stopped.value)
    assert f"Run the same `ganzoo bench` command again with --out {out}" in message
    assert "train --resume" not in message
    assert (out / "runs" / "vanilla-seed0" / "config.json").is_file()
    monkeypatch.setattr(Trainer, "run", real_run)
    results = run_benchmark(config)  # the same --out: it starts again there
    assert results["models"][0]["model"] == "vanilla" and (out / "results.json").is_file()
