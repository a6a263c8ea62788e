"""What every benchmark here shares: the thread count, a Trainer set up for measuring (no progress bar,
checkpoints or sample grids), interleaved timing and the machine line that goes beside each figure."""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from ganzoo.bench import machine_description
from ganzoo.datasets.base import ImageDataset, load_dataset
from ganzoo.engine import TrainConfig, Trainer

BUILTIN_MODELS = ("vanilla", "dcgan", "wgan-gp")
THREADS_ENV = "GANZOO_BENCH_THREADS"  # torch threads for every benchmark; unset: torch's default


def set_threads() -> int:
    """Apply ``GANZOO_BENCH_THREADS`` when set and return the thread count in use."""
    if os.environ.get(THREADS_ENV):
        torch.set_num_threads(int(os.environ[THREADS_ENV]))
    return torch.get_num_threads()


_datasets: dict[str, ImageDataset] = {}


def dataset(source: str = "mnist-10k:train") -> ImageDataset:
    """Load a dataset split once per process (the embedded digits take a moment to decode)."""
    if source not in _datasets:
        _datasets[source] = load_dataset(source)
    return _datasets[source]


def measuring_trainer(
    model: str,
    out: Path | None = None,
    *,
    batch_size: int = 64,
    overrides: list[str] | None = None,
    callbacks: list | None = None,
    **config: Any,
) -> Trainer:
    """A Trainer on mnist-10k:train (1x28x28) that writes nothing while it trains: progress, checkpoints
    and sample grids off. ``out`` defaults to a fresh temporary directory."""
    out = out or Path(tempfile.mkdtemp(prefix=f"ganzoo-bench-{model}-"))
    train_config = TrainConfig(
        model=model,
        out=str(out / "run"),
        batch_size=batch_size,
        overrides=list(overrides or []),
        progress=False,
        sample_every=0,
        checkpoint_every=0,
        device=config.pop("device", "cpu"),
        **config,
    )
    return Trainer(train_config, callbacks=callbacks, dataset=dataset())


def synchronize(device: torch.device | str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def interleaved_medians(
    candidates: dict[str, Callable[[], Any]],
    rounds: int,
    warmup: int = 2,
    device: str = "cpu",
    untimed_first: bool = False,
) -> dict[str, float]:
    """Median seconds per call of each candidate, timed in alternation round by round, so that load from
    other processes on a shared machine falls on all of them alike.

    ``untimed_first``: in every round each candidate first runs once untimed, so that the timed call finds
    the caches holding its own tensors, as in a training loop, rather than the previous candidate's."""
    for fn in candidates.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(rounds):
        for name, fn in candidates.items():
            if untimed_first:
                fn()
            synchronize(device)
            start = time.perf_counter()
            fn()
            synchronize(device)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def machine() -> dict[str, Any]:
    """CPU model, cores, threads, torch version and the date: what every figure is reported with."""
    return {
        **machine_description(),
        "torch": torch.__version__,
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def machine_line() -> str:
    m = machine()
    gpu = f", {m['gpu']}" if "gpu" in m else ""
    threads = f"{m['torch_threads']} torch threads{gpu}"
    return f"{m['cpu']}, {m['cpu_count']} cores, {threads}; torch {m['torch']}; {m['date']}"


def markdown_table(columns: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
