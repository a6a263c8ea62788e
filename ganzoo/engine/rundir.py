"""The run directory: where a run's files live and the only code that creates or writes them (config.json,
metrics.jsonl, sample grids, the final generator), so a user's directory is never replaced by accident."""

from __future__ import annotations

import dataclasses
import json
import platform
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

import ganzoo
from ganzoo import checkpoint as ckpt
from ganzoo.errors import UsageError
from ganzoo.images import save_grid
from ganzoo.interfaces import Generator
from ganzoo.registry import plugin_versions, zoo

METRICS_FILE = "metrics.jsonl"
SAMPLES_DIR = "samples"


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
    """The records of a metrics.jsonl; a line cut short (a full disk, a killed writer) is skipped."""
    if not path.exists():
        return []
    records = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
            int(record["step"])
        except (ValueError, KeyError, TypeError):
            continue
        records.append(record)
    return records


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
        if not (self.path.exists() and any(self.path.iterdir())):
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
        return True

    def create(self, replace: bool, description: dict[str, Any]) -> None:
        """Made only once data and networks are ready, so a failed start leaves nothing behind."""
        if not self.writes:
            return
        if replace:
            shutil.rmtree(self.path)
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

    def write_samples(self, images: torch.Tensor, step: int, model: str) -> Path:
        path = self.path / SAMPLES_DIR / f"step_{step:06d}.png"
        if self.writes:
            path.parent.mkdir(parents=True, exist_ok=True)  # a copied run may lack the empty samples/ folder
            save_grid(images.cpu(), path, model=model, extra={"ganzoo:step": str(step)})
        return path

    def write_final_generator(self, state: dict[str, Any]) -> None:
        if self.writes:
            ckpt.save_checkpoint(self.path / ckpt.FINAL_GENERATOR, state)
