"""The typed configuration of a training run: what ``ganzoo train`` maps its options onto and what
``config.json`` records, so a run can be repeated or resumed."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganzoo.datasets.base import DatasetOptions
from ganzoo.errors import UsageError
from ganzoo.spec import Hyperparameters, ModelSpec, parse_override


@dataclass
class TrainConfig:
    """Everything a run needs; written to ``config.json`` so the run can be repeated or resumed."""

    model: str = "dcgan"  # registered model name or alias
    dataset: str = "mnist-10k"  # dataset NAME or NAME:SPLIT (default split: train)
    steps: int = 2000  # total generator steps (a resumed run continues up to this count)
    seed: int = 0  # seeds torch, numpy, python and the data order
    out: str | None = None  # run directory; default runs/<model>-<UTC time>
    overrides: list[str] = field(default_factory=list)  # hyperparameter overrides "key=value" (--set)
    batch_size: int | None = None  # shortcut for the batch_size override
    augment: list[str] = field(default_factory=list)  # DiffAugment names, applied in order to all D sees
    device: str = "auto"  # auto (cuda, then mps, then cpu), or an explicit torch device
    ema: bool = True  # keep an exponential moving average of G; used for sampling and evaluation
    ema_decay: float = 0.999  # EMA decay per step (warmed up as min(decay, (1 + t) / (10 + t)))
    log_every: int = 50  # steps between metrics.jsonl lines (the only host-device syncs)
    sample_every: int = 500  # steps between fixed-noise sample grids (0: only at the end)
    checkpoint_every: int = 500  # steps between checkpoints (0: only at the end and on interruption)
    keep_checkpoints: int = 3  # how many recent checkpoints to keep
    grid_size: int = 64  # images in each sample grid
    compile: bool = False  # torch.compile G and D when available
    channels_last: bool | None = (
        None  # None: measured on the CPU (ganzoo.engine.precision); on CUDA for convolutions
    )
    amp: bool | None = None  # bf16 autocast; None: measured on the CPU, cached per machine; on for CUDA
    progress: bool = True  # show a progress bar
    data_dir: str | None = None  # where dataset files are looked for first
    image_size: int | None = None  # folder datasets: square image side
    channels: int | None = None  # folder datasets: 1 or 3
    strict: bool = False  # folder datasets: an unreadable image is an error instead of skipped
    download: bool = True  # allow downloading a dataset that is nowhere local

    def validate(self) -> None:
        if self.steps <= 0:
            raise UsageError(f"--steps must be positive, got {self.steps}.")
        if self.batch_size is not None and self.batch_size <= 0:
            raise UsageError(f"--batch-size must be positive, got {self.batch_size}.")
        if not isinstance(self.augment, list) or not all(isinstance(name, str) for name in self.augment):
            raise UsageError(f"augment must be a list of augmentation names, got {self.augment!r}.")
        if not 0.0 <= self.ema_decay < 1.0:
            raise UsageError(f"--ema-decay must be in [0, 1), got {self.ema_decay}.")
        for name in ("log_every", "sample_every", "checkpoint_every", "keep_checkpoints", "grid_size"):
            if getattr(self, name) < 0 or (name in ("log_every", "grid_size") and getattr(self, name) == 0):
                raise UsageError(f"{name.replace('_', '-')} must be positive, got {getattr(self, name)}.")

    @classmethod
    def from_saved(cls, saved: dict[str, Any], requested: TrainConfig) -> TrainConfig:
        """A resumed run's config: the saved settings, with this invocation's device, progress and steps."""
        known = {f.name for f in dataclasses.fields(cls)}
        config = cls(**{k: v for k, v in saved.items() if k in known})
        config.device, config.progress, config.steps = requested.device, requested.progress, requested.steps
        return config

    def check_shape_before_loading(self, spec: ModelSpec) -> None:
        """A folder dataset's image shape is known from the options before any image is decoded: refuse a
        size the model cannot build then, not after decoding (and caching) every image at that size."""
        from ganzoo.datasets.folder import DEFAULT_IMAGE_SIZE

        if not self.dataset.startswith("folder:"):
            return
        size = self.image_size or DEFAULT_IMAGE_SIZE
        shapes = [(channels, size, size) for channels in ([self.channels] if self.channels else [1, 3])]
        if not any(shape in {tuple(s) for s in spec.image_shapes} for shape in shapes):
            spec.check_image_shape(shapes[0])

    def dataset_options(self) -> DatasetOptions:
        return DatasetOptions(
            data_dir=Path(self.data_dir) if self.data_dir else None,
            image_size=self.image_size,
            channels=self.channels,
            strict=self.strict,
            download=self.download,
            progress=self.progress,
        )

    def hyperparameters(self, spec: ModelSpec) -> Hyperparameters:
        hp = spec.defaults
        for assignment in self.overrides:
            hp = parse_override(hp, assignment)
        if self.batch_size is not None:
            hp = hp.replace(batch_size=self.batch_size)
        hp.validate()
        return hp
