"""Crash-resume soak: `ganzoo train` killed with SIGKILL at 20 random moments (while starting, restoring,
training or writing a checkpoint), then at exact moments a resume passes through: three inside the rewrite
of metrics.jsonl (half written, written but not renamed, renamed) and one right after the final checkpoint,
before generator.pt and the final grid. Every resume runs, no checkpoint is ever corrupt, no more
checkpoints than kept are left, and the run ends at the right step with the weights an uninterrupted run
reaches.

Slow (a minute or two), so it is marked ``soak``: the default run skips it and `.ci/run` runs it.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from ganzoo import checkpoint as ckpt
from ganzoo.engine.rundir import read_metrics

KILLS = 20
EXACT_MOMENTS = ("metrics-half-written", "metrics-not-renamed", "metrics-renamed")
KEEP = 3
NEVER_REACHED = 10**6  # the step count of the killed runs: none of them may finish on its own
TINY = "--model dcgan --set generator_width=8 --set discriminator_width=8 --batch-size 16".split()
# A checkpoint and a metrics line every step, so that many kills land in the middle of a write.
EVERY_STEP = [
    "--checkpoint-every",
    "1",
    "--keep-checkpoints",
    str(KEEP),
    "--log-every",
    "1",
    "--sample-every",
    "0",
]
# `ganzoo train` that kills itself with SIGKILL at one exact moment (argv[1]), then the train arguments.
KILLED_AT = r"""
import os, signal, sys
from ganzoo import checkpoint as ckpt
from ganzoo.engine.rundir import read_metrics
from ganzoo.cli import main
from ganzoo.engine import state

moment, final_step = sys.argv[1], int(sys.argv[2])
real_write, real_save = ckpt.atomic_write_bytes, state.Checkpointer.save

def die():
    os.kill(os.getpid(), signal.SIGKILL)

def write(path, fill):
    if path.name != "metrics.jsonl" or not moment.startswith("metrics-"):
        return real_write(path, fill)
    if moment == "metrics-half-written":
        class Half:
            def write(self, data):
                handle.write(data[: len(data) // 2]); handle.flush(); os.fsync(handle.fileno()); die()
        def fill_half(out):
            global handle
            handle = out
            fill(Half())
        return real_write(path, fill_half)
    if moment == "metrics-not-renamed":
        def fill_then_die(out):
            fill(out); out.flush(); os.fsync(out.fileno()); die()
        return real_write(path, fill_then_die)
    real_write(path, fill)
    die()

def save(self, step, train_seconds):
    path = real_save(self, step, train_seconds)
    if moment == "after-final-checkpoint" and step == final_step:
        die()
    return path

ckpt.atomic_write_bytes = write
state.Checkpointer.save = save
sys.argv = ["ganzoo", "train", *sys.argv[3:]]
main()
"""


def killed_at(moment: str, final_step: int, *args) -> list[str]:
    return [sys.executable, "-c", KILLED_AT, moment, str(final_step), *map(str, args), "--no-progress"]


def ganzoo_train(*args: str) -> list[str]:
    return [sys.executable, "-m", "ganzoo", "train", *map(str, args), "--no-progress"]


def start(command: list[str]) -> subprocess.Popen:
    # One thread each: the same arithmetic in every process (exact resume) and no fight over shared cores.
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)


def newest_step(run: Path) -> int:
    steps = ckpt.list_checkpoints(run)
    return steps[-1][0] if steps else 0


def wait_until(condition, process: subprocess.Popen, timeout: float = 120.0, poll: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            pytest.fail(
                f"`ganzoo train` ended by itself with status {process.returncode}:\n{process.stderr.read()}"
            )
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("`ganzoo train` made no progress in time")
        time.sleep(poll)


def writing_a_checkpoint(run: Path, process: subprocess.Popen) -> bool:
    """The process's temp file exists: its atomic write has begun and is not yet renamed into place."""
    return any(p.name.endswith(f".tmp-{process.pid}") for p in (run / ckpt.CHECKPOINT_DIR).iterdir())


def assert_nothing_is_corrupt(run: Path) -> None:
    ckpt.read_run_config(run)
    for step, path in ckpt.list_checkpoints(run):
        assert ckpt.load_checkpoint(path)["step"] == step, path
    assert ckpt.latest_checkpoint(run)[0]["step"] == newest_step(run)
    read_metrics(run / "metrics.jsonl")  # every whole line passes the schema (a kill may cut the last)


def run_killed_at(moment: str, final_step: int, *args) -> None:
    process = start(killed_at(moment, final_step, *args))
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == -signal.SIGKILL, (moment, process.returncode, stderr)


def metric_steps(run: Path) -> list[int]:
    return [
        json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()
    ]


@pytest.mark.soak
def test_twenty_sigkills_at_random_moments_lose_nothing(tmp_path):
    rng = random.Random(20240601)
    run = tmp_path / "run"
    first = start(ganzoo_train("--steps", NEVER_REACHED, "--out", run, *TINY, *EVERY_STEP))
    wait_until(lambda: newest_step(run) >= 1, first)  # before its first checkpoint there is nothing to resume
    first.kill()
    first.wait(timeout=30)
    moments = {"while writing a checkpoint": 0, "while training": 0, "while starting or restoring": 0}
    for _ in range(KILLS):
        assert_nothing_is_corrupt(run)
        before = newest_step(run)
        process = start(ganzoo_train("--resume", run, "--steps", NEVER_REACHED))
        moment = rng.choices(list(moments), weights=[2, 2, 1])[0]
        moments[moment] += 1
        if moment == "while writing a checkpoint":
            wait_until(lambda before=before: newest_step(run) > before, process)
            wait_until(lambda process=process: writing_a_checkpoint(run, process), process, poll=0.0005)
        elif moment == "while training":
            wait_until(lambda before=before: newest_step(run) > before, process)
            time.sleep(rng.uniform(0.0, 0.5))
        else:
            time.sleep(rng.uniform(0.0, 3.0))
        if process.poll() is not None:
            pytest.fail(
                f"the resume ended by itself with status {process.returncode}:\n{process.stderr.read()}"
            )
        process.kill()
        process.wait(timeout=30)
        assert newest_step(run) >= before  # a kill never takes a saved step away
    assert_nothing_is_corrupt(run)

    # Exact moments: inside the rewrite of metrics.jsonl that each resume begins with.
    for moment in EXACT_MOMENTS:
        before = newest_step(run)
        run_killed_at(moment, NEVER_REACHED, "--resume", run, "--steps", NEVER_REACHED)
        assert newest_step(run) == before  # killed before it trained
        assert_nothing_is_corrupt(run)
        assert all(r["step"] <= before + 1 for r in read_metrics(run / "metrics.jsonl"))  # logged, not saved

    # Right after the final checkpoint, before generator.pt and the final grid: the resume finishes it.
    final_step = newest_step(run) + 5
    run_killed_at("after-final-checkpoint", final_step, "--resume", run, "--steps", final_step)
    assert newest_step(run) == final_step and not (run / "samples" / f"step_{final_step:06d}.png").exists()
    assert len(ckpt.list_checkpoints(run)) <= KEEP + 1  # the kill came before the pruning
    finish = start(ganzoo_train("--resume", run, "--steps", final_step))
    _, stderr = finish.communicate(timeout=300)
    assert finish.returncode == 0, stderr
    assert len(ckpt.list_checkpoints(run)) <= KEEP
    assert ckpt.load_checkpoint(ckpt.checkpoint_path(run, final_step))["step"] == final_step
    assert ckpt.load_checkpoint(run / ckpt.FINAL_GENERATOR)["step"] == final_step
    assert (run / "samples" / f"step_{final_step:06d}.png").is_file()
    assert metric_steps(run) == list(range(1, final_step + 1))  # each step logged once, none lost or repeated
    assert not [
        p.name for d in (run, run / ckpt.CHECKPOINT_DIR) for p in d.iterdir() if ".tmp-" in p.name
    ]  # leftovers of dead writers removed, in checkpoints/ and beside metrics.jsonl

    # The weights are those of a run that was never interrupted.
    straight = tmp_path / "straight"
    uninterrupted = start(ganzoo_train("--steps", final_step, "--out", straight, *TINY, *EVERY_STEP))
    _, stderr = uninterrupted.communicate(timeout=300)
    assert uninterrupted.returncode == 0, stderr
    resumed = torch.load(ckpt.checkpoint_path(run, final_step), weights_only=True)
    expected = torch.load(ckpt.checkpoint_path(straight, final_step), weights_only=True)
    for network in ("generator", "discriminator", "ema_generator"):
        for name, tensor in expected[network].items():
            assert torch.equal(resumed[network][name], tensor), (network, name)
    finished = torch.load(run / ckpt.FINAL_GENERATOR, weights_only=True)["ema_generator"]
    for name, tensor in torch.load(straight / ckpt.FINAL_GENERATOR, weights_only=True)[
        "ema_generator"
    ].items():
        assert torch.equal(finished[name], tensor), ("generator.pt", name)
    assert all(moments.values()), moments  # the seeded draw covers every kind of moment
