"""Precision and memory format chosen by measurement, not by a CPU flag: a short timed probe of the model's
own iteration in each candidate setting (fp32 or bf16 autocast; contiguous or channels_last for convolution
models), cached per CPU, torch version, thread count and model configuration, so it is paid once."""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from ganzoo import checkpoint as ckpt
from ganzoo.datasets.base import cache_dir
from ganzoo.machine import cpu_flags, cpu_model

CACHE_ENV = "GANZOO_PRECISION_CACHE"  # a file to keep the decisions in instead of the user cache
BF16_MARGIN = 0.05  # bf16 is chosen only when it is more than 5% faster than the best fp32 setting
WARMUP_ROUNDS = 2  # untimed iterations per setting (oneDNN builds its kernels on the first calls)
TIMED_ROUNDS = 5  # timed iterations per setting, interleaved so drift hits every setting alike


@dataclass(frozen=True)
class Setting:
    amp: bool  # bf16 autocast
    channels_last: bool

    @property
    def label(self) -> str:
        return ("bf16" if self.amp else "fp32") + (" channels_last" if self.channels_last else "")


def candidates(amp: bool | None, channels_last: bool | None, convolutional: bool) -> list[Setting]:
    """The settings left open by the request (None: either); channels_last only matters for convolutions."""
    amps = [False, True] if amp is None else [amp]
    if channels_last is None:
        formats = [False, True] if convolutional else [False]
    else:
        formats = [channels_last]
    return [Setting(a, c) for a in amps for c in formats]


def pick(seconds: dict[Setting, float]) -> Setting:
    """The fastest setting, except that the best fp32 one wins unless bf16 is clearly faster."""
    fastest = min(seconds, key=seconds.__getitem__)
    fp32 = [s for s in seconds if not s.amp]
    if fp32:
        best_fp32 = min(fp32, key=seconds.__getitem__)
        if seconds[best_fp32] <= seconds[fastest] * (1.0 + BF16_MARGIN):
            return best_fp32
    return fastest


def measure(iterations: dict[Setting, Callable[[], Any]]) -> dict[Setting, float]:
    """Median seconds of one iteration per setting, the settings' calls interleaved."""
    for _ in range(WARMUP_ROUNDS):
        for iteration in iterations.values():
            iteration()
    times: dict[Setting, list[float]] = {setting: [] for setting in iterations}
    for _ in range(TIMED_ROUNDS):
        for setting, iteration in iterations.items():
            start = time.perf_counter()
            iteration()
            times[setting].append(time.perf_counter() - start)
    return {setting: statistics.median(values) for setting, values in times.items()}


def cache_key(model_config: dict[str, Any]) -> str:
    machine = {
        "cpu": cpu_model(),
        "flags": cpu_flags(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }
    return json.dumps({**machine, **model_config}, sort_keys=True)


def _cache_path() -> Path:
    return Path(os.environ.get(CACHE_ENV) or cache_dir("speed") / "precision.json")


def _read_cache() -> dict[str, Any]:
    """The cached decisions; a missing, damaged or edited file counts as empty (it is rewritten)."""
    try:
        cached = json.loads(_cache_path().read_text())
    except (OSError, ValueError):
        return {}
    return cached if isinstance(cached, dict) else {}


def cached_setting(key: str, allowed: list[Setting]) -> Setting | None:
    entry = _read_cache().get(key)
    if not isinstance(entry, dict) or not all(
        isinstance(entry.get(k), bool) for k in ("amp", "channels_last")
    ):
        return None
    setting = Setting(entry["amp"], entry["channels_last"])
    return setting if setting in allowed else None


def store_setting(key: str, chosen: Setting, seconds: dict[Setting, float]) -> None:
    cache = _read_cache()
    cache[key] = {
        "amp": chosen.amp,
        "channels_last": chosen.channels_last,
        "seconds": {setting.label: round(value, 6) for setting, value in seconds.items()},
        "measured": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    path = _cache_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(cache, indent=1)
        ckpt.atomic_write_bytes(path, lambda f: f.write(text.encode()))
    except OSError:
        pass  # a read-only home: the probe runs again next time, nothing else changes


def choose(
    allowed: list[Setting], key: str, make_iteration: Callable[[Setting], Callable[[], Any]]
) -> tuple[Setting, dict[str, Any]]:
    """The setting to train in and how it was chosen (recorded in config.json)."""
    if len(allowed) == 1:
        return allowed[0], {"chosen_by": "request"}
    cached = cached_setting(key, allowed)
    if cached is not None:
        return cached, {"chosen_by": "cache", "cache": str(_cache_path())}
    with torch.random.fork_rng(devices=[]):  # the probe draws nothing the run would see
        seconds = measure({setting: make_iteration(setting) for setting in allowed})
    chosen = pick(seconds)
    store_setting(key, chosen, seconds)
    return chosen, {"chosen_by": "probe", "iteration_seconds": {s.label: seconds[s] for s in allowed}}
