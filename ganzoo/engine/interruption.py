"""How a run ends early: Ctrl-C or SIGTERM (a checkpoint is written, the message says how to resume), or
losses that became non-finite (the last good checkpoint is kept)."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

from ganzoo import checkpoint as ckpt
from ganzoo.errors import GanzooError


class TrainingInterrupted(GanzooError):
    """Ctrl-C or SIGTERM: a checkpoint was written and the message says how to resume."""

    def __init__(self, message: str, signal_number: int) -> None:
        super().__init__(message)
        self.exit_code = 128 + signal_number


class TrainingDiverged(GanzooError):
    """Losses became NaN or infinite; the last good checkpoint is kept."""


@contextlib.contextmanager
def stop_requests(on_request: Callable[[int], None]) -> Iterator[None]:
    """While inside, SIGINT and SIGTERM call ``on_request(signum)``; a second one stops at once."""
    requested: list[int] = []

    def handler(signum, frame):  # noqa: ARG001
        if requested:  # a second Ctrl-C: stop at once
            raise KeyboardInterrupt
        requested.append(signum)
        on_request(signum)

    previous = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            previous[signum] = signal.signal(signum, handler)
        except ValueError:  # not the main thread
            pass
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def interrupted(
    signum: int | None, step: int, checkpoint: Path, run_dir: Path, steps: int, world_size: int
) -> TrainingInterrupted:
    """The error a stopped run raises once its checkpoint is written: it says how to resume."""
    signum = signum or signal.SIGINT
    launcher = "ganzoo" if world_size == 1 else "torchrun ... -m ganzoo"
    return TrainingInterrupted(
        f"interrupted by {signal.Signals(signum).name} at step {step}; checkpoint saved to {checkpoint}. "
        f"Resume with: {launcher} train --resume {run_dir} --steps {steps}",
        signum,
    )


def raise_if_diverged(bad_step: int, run_dir: Path, model: str) -> None:
    """Raise TrainingDiverged if ``bad_step`` (the first step with a non-finite loss; 0: none) is set."""
    if not bad_step:
        return
    kept = ckpt.list_checkpoints(run_dir)
    where = (
        f"the last good checkpoint, step {kept[-1][0]}, is kept in {kept[-1][1].parent}"
        if kept
        else "no checkpoint had been written yet"
    )
    raise TrainingDiverged(
        f"losses became non-finite at step {bad_step} of model {model!r}; {where}. "
        f"Lower the learning rates (--set generator_lr=..., --set discriminator_lr=...) and train again."
    )
