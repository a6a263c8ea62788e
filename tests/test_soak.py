"""Crash-resume soak: `ganzoo train` killed with SIGKILL at 20 random moments (while starting, restoring,
training or writing a checkpoint) and resumed each time. Every resume runs, no checkpoint is ever corrupt,
and the run ends at the right step with the weights an uninterrupted run reaches.

Slow (a minute or two), so it is marked ``soak``: the default run skips it and `.ci/run` runs it.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from ganzoo import checkpoint as ckpt

KILLS = 20
NEVER_REACHED = 10**6  # the step count of the killed runs: none of them may finish on its own
TINY = "--model dcgan --set generator_width=8 --set discriminator_width=8 --batch-size 16".split()
# A checkpoint and a metrics line every step, so that many kills land in the middle of a write.
EVERY_STEP = ["--checkpoint-every", "1", "--keep-checkpoints", "3", "--log-every", "1", "--sample-every", "0"]


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

    final_step = newest_step(run) + 5
    finish = start(ganzoo_train("--resume", run, "--steps", final_step))
    _, stderr = finish.communicate(timeout=300)
    assert finish.returncode == 0, stderr
    assert ckpt.load_checkpoint(ckpt.checkpoint_path(run, final_step))["step"] == final_step
    assert ckpt.load_checkpoint(run / ckpt.FINAL_GENERATOR)["step"] == final_step
    assert metric_steps(run) == list(range(1, final_step + 1))  # each step logged once, none lost or repeated
    assert not [
        p.name for p in (run / ckpt.CHECKPOINT_DIR).iterdir() if ".tmp-" in p.name
    ]  # leftovers pruned

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
    assert all(moments.values()), moments  # the seeded draw covers every kind of moment
