"""The run directory: where a run's files live and the only code that creates or writes them (config.json,
metrics.jsonl, sample grids, the final generator), so a user's directory is never replaced by accident."""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import platform
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

import ganzoo
from ganzoo import checkpoint as ckpt
from ganzoo.engine import schema
from ganzoo.errors import CheckpointError, UsageError
from ganzoo.images import save_grid
from ganzoo.interfaces import Generator
from ganzoo.registry import plugin_versions, zoo

METRICS_FILE = "metrics.jsonl"
SAMPLES_DIR = "samples"
LOCK_FILE = ".lock"  # holds the pid of the process that has the run; locked with flock while it runs


@dataclass
class Run:
    """A finished (or stopped) run and where its files are."""

    directory: Path
    step: int
    config: dict[str, Any]

    @property
    def generator_path(self) -> Path:
        return self.directory / ckpt.FINAL_GENERATOR

    @property
    def metrics_path(self) -> Path:
        return self.directory / METRICS_FILE

    def metrics(self) -> list[dict[str, Any]]:
        return read_metrics(self.metrics_path)

    def load_generator(self, device: str = "cpu") -> Generator:
        return ckpt.load_generator(self.directory, device)


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """The records of a metrics.jsonl, each checked (ganzoo.engine.schema); a line cut short (a full disk,
    a killed writer) is skipped, a line that parses to something else is an error naming it."""
    if not path.exists():
        return []
    records = []
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        schema.check_metrics_record(record, path, number)
        records.append(record)
    return records


def read_run_config(run_dir: Path) -> dict[str, Any]:
    """A run's config.json, framing and every value checked, for a resume."""
    if Path(run_dir).is_dir() and not (Path(run_dir) / ckpt.CONFIG_FILE).exists() and holds_nothing(run_dir):
        raise CheckpointError(
            f"{run_dir} holds no run: it was made, then stopped before it wrote {ckpt.CONFIG_FILE}. Start it "
            f"with `ganzoo train --out {run_dir}` and its options."
        )
    config = ckpt.read_run_config(run_dir)
    schema.check_run_config(config, Path(run_dir) / ckpt.CONFIG_FILE)
    return config


def holds_nothing(path: Path) -> bool:
    """True for a run directory left by a kill before it held anything: its empty folders, its lock file
    and temp files of writers that are gone."""
    for entry in Path(path).iterdir():
        if entry.name in (ckpt.CHECKPOINT_DIR, SAMPLES_DIR) and entry.is_dir() and not entry.is_symlink():
            if any(not ckpt.is_dead_writers_leftover(child) for child in entry.iterdir()):
                return False
        elif entry.name != LOCK_FILE and not ckpt.is_dead_writers_leftover(entry):
            return False
    return True


_held: dict[str, Any] = {}  # run directory -> its open, flock-ed lock file, until the run ends or the process


def hold(path: Path) -> None:
    """Take the run directory's lock for this process, or refuse naming the process that has it. The lock
    is the kernel's (flock): it ends with its process, so even a SIGKILL leaves no stale lock."""
    key = os.path.realpath(path)
    if key in _held:
        return
    lock_path = Path(path) / LOCK_FILE
    handle = open(lock_path, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip()
        handle.close()
        raise UsageError(
            f"run directory {path} is in use by another process (pid {holder or 'unknown'}); wait for it to "
            f"end or stop it, or choose another --out."
        ) from None
    except OSError as exc:  # a file system without locks (some network ones): train, but say so
        from ganzoo.console import warn

        warn(f"cannot lock {lock_path} ({exc.strerror or exc}); nothing stops a second process using {path}.")
    handle.truncate(0)
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    _held[key] = handle


def release(path: Path) -> None:
    """Give the lock back when a run ends, so that the same process (a notebook, a test) or another one can
    resume it; a process that ends gives it back anyway."""
    handle = _held.pop(os.path.realpath(path), None)
    if handle is not None:
        with contextlib.suppress(OSError):
            fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def default_run_dir(model: str) -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    base = Path("runs") / f"{model}-{stamp}"
    candidate, suffix = base, 1
    while candidate.exists():
        suffix += 1
        candidate = base.with_name(f"{base.name}-{suffix}")
    return candidate


def describe_run(config, spec, hp, dataset, placement, precision_choice, distributed_info) -> dict[str, Any]:
    """config.json's content: everything needed to rerun the run and to know what it was."""
    description = {
        "train": dataclasses.asdict(config),
        "model": spec.name,
        "plugin": zoo().models.plugin_of(spec.name),
        "hyperparameters": dataclasses.asdict(hp),
        "image_shape": list(dataset.image_shape),
        "dataset": {
            "name": dataset.name,
            "split": dataset.split,
            "size": len(dataset),
            "fingerprint": dataset.fingerprint,
            "license": dataset.license,
        },
        "versions": environment(),
        "device": str(placement.device),
        "bf16_autocast": placement.amp,
        "placement": {
            "bf16_autocast": placement.amp,
            "channels_last": placement.memory_format == torch.channels_last,
            **precision_choice,  # chosen_by: request, rule, cache or probe (with the probe's timings)
        },
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if distributed_info is not None:
        description["distributed"] = distributed_info
    return description


def environment() -> dict[str, Any]:
    """The versions a run records: ganzoo, its plugins, torch, Python and the platform."""
    return {
        "ganzoo": ganzoo.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "plugins": plugin_versions(),
        "platform": platform.platform(),
    }


class RunDirectory:
    """One run's directory. Every method that writes does so only on the main process (``writes``)."""

    def __init__(self, path: Path, *, writes: bool = True) -> None:
        self.path = Path(path)
        self.writes = writes

    @property
    def metrics_path(self) -> Path:
        return self.path / METRICS_FILE

    def refuse_existing(self, overwrite: bool, cli: bool = False) -> bool:
        """Refuse to reuse a run directory unless told to; True when an old run is to be replaced.
        ``cli``: name the command line's options in the message, else ``ganzoo.train``'s arguments."""
        if not (self.path.exists() and any(self.path.iterdir())) or holds_nothing(self.path):
            return False
        if not overwrite:
            if cli:
                how = (
                    f"Continue it with `ganzoo train --resume {self.path} --steps N`, choose another --out, "
                    f"or pass --overwrite to replace it."
                )
            else:
                how = (
                    f"Continue it with `ganzoo.train(resume={str(self.path)!r}, steps=N)`, choose another "
                    f"out=, or pass overwrite=True to replace it."
                )
            raise UsageError(f"run directory {self.path} already exists. {how}")
        if not (self.path / ckpt.CONFIG_FILE).exists():
            option = "--overwrite" if cli else "overwrite=True"
            raise UsageError(
                f"{self.path} is not a ganzoo run directory; {option} only replaces run directories."
            )
        self.hold()  # before anything is deleted: a run another process is training is not replaced
        return True

    def held_config(self) -> dict[str, Any]:
        """For a resume: take the lock (a run another process is training is not resumed), then read and
        check config.json."""
        if (self.path / ckpt.CONFIG_FILE).is_file():
            self.hold()
        return read_run_config(self.path)

    def hold(self) -> None:
        """Only the writing process (rank 0) locks the directory."""
        if self.writes:
            hold(self.path)

    def release(self) -> None:
        if self.writes:
            release(self.path)

    def create(self, replace: bool, description: dict[str, Any]) -> None:
        """Made only once data and networks are ready, so a failed start leaves nothing behind."""
        if not self.writes:
            return
        made = not self.path.exists()
        self.path.mkdir(parents=True, exist_ok=True)
        try:
            self.hold()
        except UsageError:
            if made:
                shutil.rmtree(self.path, ignore_errors=True)
            raise
        if replace:
            for entry in self.path.iterdir():  # all but the lock this process holds
                if entry.name != LOCK_FILE:
                    shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
        elif not holds_nothing(self.path):  # another process made it since refuse_existing
            raise UsageError(
                f"run directory {self.path} was made by another process meanwhile; choose another --out."
            )
        ckpt.remove_dead_writers_leftovers(self.path)
        (self.path / ckpt.CHECKPOINT_DIR).mkdir(parents=True, exist_ok=True)
        (self.path / SAMPLES_DIR).mkdir(exist_ok=True)
        text = json.dumps({"format_version": ckpt.FORMAT_VERSION, **description}, indent=2)
        ckpt.atomic_write_bytes(self.path / ckpt.CONFIG_FILE, lambda f: f.write(text.encode()))

    def append_metrics(self, record: dict[str, Any]) -> None:
        if self.writes:
            with open(self.metrics_path, "a") as handle:
                handle.write(json.dumps(record) + "\n")

    def truncate_metrics(self, step: int) -> None:
        """Drop metrics logged after the checkpoint we resume from: they will be logged again."""
        if not self.writes or not self.metrics_path.exists():
            return
        kept = [json.dumps(record) for record in read_metrics(self.metrics_path) if record["step"] <= step]
        ckpt.atomic_write_bytes(
            self.metrics_path, lambda f: f.write("".join(line + "\n" for line in kept).encode())
        )

    def samples_path(self, step: int) -> Path:
        return self.path / SAMPLES_DIR / f"step_{step:06d}.png"

    def is_finished(self, step: int) -> bool:
        """The final generator and grid of ``step`` are written (a kill after the last checkpoint leaves
        a run without them, and resuming it writes them)."""
        if not self.samples_path(step).is_file() or not (self.path / ckpt.FINAL_GENERATOR).is_file():
            return False
        try:
            return ckpt.load_checkpoint(self.path / ckpt.FINAL_GENERATOR).get("step") == step
        except CheckpointError:
            return False

    def write_samples(self, images: torch.Tensor, step: int, model: str) -> Path:
        path = self.samples_path(step)
        if self.writes:
            path.parent.mkdir(parents=True, exist_ok=True)  # a copied run may lack the empty samples/ folder
            save_grid(images.cpu(), path, model=model, extra={"ganzoo:step": str(step)})
        return path

    def write_final_generator(self, state: dict[str, Any]) -> None:
        if self.writes:
            ckpt.save_checkpoint(self.path / ckpt.FINAL_GENERATOR, state)
