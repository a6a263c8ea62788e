"""How an interrupted ``ganzoo bench`` goes on: rerun into its own --out, where it starts again and replaces
the runs it left unfinished (``train --resume`` would continue one run, not the bench)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from ganzoo.engine.interruption import TrainingInterrupted


@contextlib.contextmanager
def restartable(out: Path, model: str, seed: int) -> Iterator[None]:
    """Around one of the bench's training runs: an interruption says how to restart the bench."""
    try:
        yield
    except TrainingInterrupted as exc:
        signal_number = exc.exit_code - 128
        raise TrainingInterrupted(
            f"the bench was interrupted while training {model} (seed {seed}). Run the same `ganzoo bench` "
            f"command again with --out {out}: it starts again in that directory and replaces its unfinished "
            f"runs ({str(exc).split(';')[0]}).",
            signal_number,
        ) from None
