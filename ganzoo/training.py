"""The training engine: one loop that trains any registered model on any registered dataset, fast,
reproducibly (exact resume) and without losing a run (atomic checkpoints, clean interruption)."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import json
import os
import platform
import random
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

import ganzoo
from ganzoo import checkpoint as ckpt
from ganzoo import distributed
from ganzoo.datasets.base import DatasetOptions, ImageDataset, load_dataset, to_model_range, to_uint8
from ganzoo.errors import GanzooError, UsageError, exception_line
from ganzoo.images import save_grid
from ganzoo.interfaces import Generator
from ganzoo.registry import plugin_versions, zoo
from ganzoo.spec import Hyperparameters, ModelSpec, check_model_outputs, parse_override


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
    device: str = "auto"  # auto (cuda, then mps, then cpu), or an explicit torch device
    ema: bool = True  # keep an exponential moving average of G; used for sampling and evaluation
    ema_decay: float = 0.999  # EMA decay per step (warmed up as min(decay, (1 + t) / (10 + t)))
    log_every: int = 50  # steps between metrics.jsonl lines (the only host-device syncs)
    sample_every: int = 500  # steps between fixed-noise sample grids (0: only at the end)
    checkpoint_every: int = 500  # steps between checkpoints (0: only at the end and on interruption)
    keep_checkpoints: int = 3  # how many recent checkpoints to keep
    grid_size: int = 64  # images in each sample grid
    compile: bool = False  # torch.compile G and D when available
    channels_last: bool | None = None  # None: on for convolution models with CUDA or bf16 autocast
    amp: bool | None = None  # bf16 autocast; None: on for CUDA and for CPUs with AMX bf16 units
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
        if not 0.0 <= self.ema_decay < 1.0:
            raise UsageError(f"--ema-decay must be in [0, 1), got {self.ema_decay}.")
        for name in ("log_every", "sample_every", "checkpoint_every", "keep_checkpoints", "grid_size"):
            if getattr(self, name) < 0 or (name in ("log_every", "grid_size") and getattr(self, name) == 0):
                raise UsageError(f"{name.replace('_', '-')} must be positive, got {getattr(self, name)}.")

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


class Callback:
    """Hooks into a running Trainer; subclass and override what you need (the bench does)."""

    def on_step(self, trainer: Trainer, step: int) -> None:
        """After each generator step; ``trainer.step`` is the number of completed steps."""

    def on_evaluation(self, trainer: Trainer, step: int, results: dict[str, Any]) -> None:
        """After an evaluation reported through :meth:`Trainer.report_evaluation`."""

    def on_checkpoint(self, trainer: Trainer, step: int, path: Path) -> None:
        """After a checkpoint was written to ``path``."""


class TrainingInterrupted(GanzooError):
    """Ctrl-C or SIGTERM: a checkpoint was written and the message says how to resume."""

    def __init__(self, message: str, signal_number: int) -> None:
        super().__init__(message)
        self.exit_code = 128 + signal_number


class TrainingDiverged(GanzooError):
    """Losses became NaN or infinite; the last good checkpoint is kept."""


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
        return self.directory / "metrics.jsonl"

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


def select_device(requested: str) -> torch.device:
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(requested)
    except RuntimeError:
        raise UsageError(f"--device {requested!r} is not a torch device; use auto, cpu, cuda or cuda:N.") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda was asked for, but CUDA is not available here; use --device cpu.")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise UsageError("--device mps was asked for, but MPS is not available here; use --device cpu.")
    return device


@functools.cache
def cpu_has_amx() -> bool:
    """Whether this CPU has AMX bf16 tiles, where bf16 autocast trains 1.2-1.8x faster (benchmarks/RESULTS.md)."""
    try:
        with open("/proc/cpuinfo") as handle:
            return any(line.startswith("flags") and " amx_bf16" in line for line in handle)
    except OSError:
        return False


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def default_run_dir(model: str) -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    base = Path("runs") / f"{model}-{stamp}"
    candidate, suffix = base, 1
    while candidate.exists():
        suffix += 1
        candidate = base.with_name(f"{base.name}-{suffix}")
    return candidate


class BatchSampler:
    """Random batches of a uint8 tensor by index: a permutation per epoch, drawn from its own generator.

    Under torchrun every rank draws the same global batches and keeps its ``shard`` of each, so the state
    (generator, permutation, position) is the same on all ranks and fits any number of them.
    """

    def __init__(
        self, size: int, batch_size: int, seed: int, device: torch.device, shard: slice | None = None
    ) -> None:
        if batch_size > size:
            raise UsageError(f"batch size {batch_size} is larger than the dataset ({size} images).")
        self.size, self.batch_size, self.device, self.shard = size, batch_size, device, shard
        self.generator = torch.Generator().manual_seed(seed)
        self.position = 0
        self.permutation = self._new_permutation()

    def _new_permutation(self) -> torch.Tensor:
        return torch.randperm(self.size, generator=self.generator).to(self.device)

    def next_indices(self) -> torch.Tensor:
        if self.position + self.batch_size > self.size:
            self.permutation, self.position = self._new_permutation(), 0
        indices = self.permutation[self.position : self.position + self.batch_size]
        self.position += self.batch_size
        return indices if self.shard is None else indices[self.shard]

    def state_dict(self) -> dict[str, Any]:
        return {
            "generator": self.generator.get_state(),
            "permutation": self.permutation.cpu(),
            "position": self.position,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self.permutation = state["permutation"].to(self.device)
        self.position = int(state["position"])


class ExponentialMovingAverage:
    """EMA of G's parameters (buffers such as batch-norm statistics are copied)."""

    def __init__(self, generator: Generator, decay: float) -> None:
        self.model = copy.deepcopy(generator).eval().requires_grad_(False)
        self.decay = decay
        self._target = [p for p in self.model.parameters()]
        self._target_buffers = [b for b in self.model.buffers()]

    @torch.no_grad()
    def update(self, generator: Generator, step: int) -> None:
        decay = min(self.decay, (1.0 + step) / (10.0 + step))
        torch._foreach_lerp_(self._target, list(generator.parameters()), 1.0 - decay)
        for target, source in zip(self._target_buffers, generator.buffers()):
            target.copy_(source)


def rng_state(cuda_device: torch.device | None = None) -> dict[str, Any]:
    """Every RNG's state; with ``cuda_device`` (one process per GPU) only that GPU's, so no other GPU
    gets a CUDA context from this process."""
    numpy_state = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy_keys": torch.from_numpy(numpy_state[1].astype(np.int64)),
        "numpy_position": int(numpy_state[2]),
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        if cuda_device is not None and cuda_device.type == "cuda":
            state["cuda"] = [torch.cuda.get_rng_state(cuda_device)]
        else:
            state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any], cuda_device: torch.device | None = None) -> None:
    torch.set_rng_state(state["torch"])
    keys = state["numpy_keys"].numpy().astype(np.uint32)
    np.random.set_state(("MT19937", keys, state["numpy_position"], 0, 0.0))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        if cuda_device is not None and cuda_device.type == "cuda":
            torch.cuda.set_rng_state(state["cuda"][0], cuda_device)  # the saving process's (first) GPU
        else:
            torch.cuda.set_rng_state_all(state["cuda"])


def _grad_norm(module: nn.Module) -> torch.Tensor:
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return torch.zeros(())
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))


def _environment() -> dict[str, Any]:
    return {
        "ganzoo": ganzoo.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "plugins": plugin_versions(),
        "platform": platform.platform(),
    }


class Trainer:
    """Trains ``config.model`` on ``config.dataset``; :meth:`run` returns the :class:`Run`.

    Give ``resume`` a run directory to continue it from its newest checkpoint up to ``config.steps``.
    """

    def __init__(
        self,
        config: TrainConfig,
        *,
        callbacks: list[Callback] | None = None,
        resume: str | os.PathLike | None = None,
        overwrite: bool = False,
        dataset: ImageDataset | None = None,
    ) -> None:
        self.callbacks = list(callbacks or [])
        self._stop_signal: int | None = None
        self._stop_requested = False  # set by stop(): a callback ended the run early
        # Under torchrun each process is one rank of a process group (ganzoo.distributed) and rank 0 alone
        # writes; outside it this is (0, 1, None) and every distributed branch below is skipped.
        self.rank, self.world_size, rank_device = distributed.setup(config.device)
        self.train_seconds = 0.0  # wall time spent in training steps (callbacks and evaluation excluded)
        if resume is not None:
            self.directory = Path(resume)
            saved = distributed.on_main(lambda: ckpt.read_run_config(self.directory))
            requested_steps = config.steps
            try:
                config = self._config_from_saved(saved["train"], config)
                config.steps = requested_steps
                config.validate()
            except (TypeError, ValueError) as exc:
                raise ckpt.CheckpointError(
                    f"{self.directory / ckpt.CONFIG_FILE} holds a setting of the wrong type "
                    f"({exception_line(exc)}); it was edited or damaged."
                ) from None
        config.validate()
        self.config = config
        self.spec = zoo().models.get(config.model)
        self.config.model = self.spec.name
        self.hp = config.hyperparameters(self.spec)
        # Distributed: this rank's slice of every global batch (hp.batch_size); None in one process.
        self.shard = None
        if self.world_size > 1:
            self.shard = distributed.batch_shard(self.hp.batch_size, self.rank, self.world_size)
        self.device = rank_device if rank_device is not None else select_device(config.device)
        if resume is None:
            self.directory = distributed.on_main(
                lambda: Path(config.out) if config.out else default_run_dir(self.spec.name)
            )
            replace = distributed.on_main(lambda: self._check_directory(overwrite))

        self.dataset = dataset if dataset is not None else distributed.main_first(
            lambda: load_dataset(config.dataset, "train", config.dataset_options())
        )
        self.spec.check_image_shape(self.dataset.image_shape)
        seed_everything(config.seed)
        self.G, self.D = self.spec.build(self.dataset.image_shape, self.hp)
        check_model_outputs(self.spec, self.G, self.D)
        self.loss = zoo().losses.get(self.hp.loss)
        self.penalty = zoo().penalties.get(self.hp.penalty) if self.hp.penalty else None
        self._setup_device()
        self.ema = ExponentialMovingAverage(self.G, config.ema_decay) if config.ema else None
        self.distributed_info: dict[str, Any] | None = None
        if self.world_size > 1:
            self._distribute()  # after the EMA copy, which keeps plain batch norm
        self.sampler = BatchSampler(
            len(self.dataset), self.hp.batch_size, config.seed + 1, self.device, shard=self.shard
        )
        self.fixed_noise = torch.randn(
            config.grid_size, self.hp.latent_dim, generator=torch.Generator().manual_seed(config.seed + 2)
        ).to(self.device)
        self.step = 0
        if resume is not None:
            self._restore(saved)
        elif self.rank == 0:
            self._create_directory(replace)
            self._write_config()

    # -- set-up ---------------------------------------------------------------------------------------
    @staticmethod
    def _config_from_saved(saved: dict[str, Any], requested: TrainConfig) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(TrainConfig)}
        config = TrainConfig(**{k: v for k, v in saved.items() if k in known})
        config.device, config.progress = requested.device, requested.progress
        return config

    def _check_directory(self, overwrite: bool) -> bool:
        """Refuse to reuse a run directory unless told to; True when an old run is to be replaced."""
        if not (self.directory.exists() and any(self.directory.iterdir())):
            return False
        if not overwrite:
            raise UsageError(
                f"run directory {self.directory} already exists. Continue it with "
                f"`ganzoo train --resume {self.directory} --steps N`, choose another --out, "
                f"or pass --overwrite to replace it."
            )
        if not (self.directory / ckpt.CONFIG_FILE).exists():
            raise UsageError(
                f"{self.directory} is not a ganzoo run directory; --overwrite only replaces run directories."
            )
        return True

    def _create_directory(self, replace: bool) -> None:
        """Made only once data and networks are ready, so a failed start leaves nothing behind."""
        if replace:
            shutil.rmtree(self.directory)
        (self.directory / ckpt.CHECKPOINT_DIR).mkdir(parents=True, exist_ok=True)
        (self.directory / "samples").mkdir(exist_ok=True)

    def _setup_device(self) -> None:
        cuda = self.device.type == "cuda"
        self.G.to(self.device)
        self.D.to(self.device)
        amp = self.config.amp if self.config.amp is not None else (cuda or self.device.type == "cpu" and cpu_has_amx())
        self.amp = bool(amp)
        # channels_last pays for convolutions on CUDA and, with bf16 autocast, on AMX CPUs (1.12-1.22x on top
        # of bf16 for the conv models); in fp32 on the CPU it was measured both faster and slower.
        convolutional = any(isinstance(m, nn.Conv2d) for m in self.D.modules())
        channels_last = self.config.channels_last
        if channels_last is None:
            channels_last = convolutional and (cuda or self.amp)
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        if channels_last:
            self.G.to(memory_format=torch.channels_last)
            self.D.to(memory_format=torch.channels_last)
        self.autocast = (
            (lambda: torch.autocast(self.device.type, dtype=torch.bfloat16)) if amp else contextlib.nullcontext
        )
        self.images = self.dataset.images.to(self.device)
        # Fused Adam: one kernel per step instead of a loop over parameters (1.3x on the MLP models on a CPU).
        adam = {"fused": True} if self.device.type in ("cuda", "cpu") else {}
        self.opt_G = torch.optim.Adam(
            self.G.parameters(), lr=self.hp.generator_lr, betas=self.hp.generator_betas, **adam
        )
        self.opt_D = torch.optim.Adam(
            self.D.parameters(), lr=self.hp.discriminator_lr, betas=self.hp.discriminator_betas, **adam
        )
        self.G_step, self.D_step = self.G, self.D  # what the hot path calls (compiled or DDP-wrapped)
        if self.config.compile:
            if not hasattr(torch, "compile"):
                raise UsageError("--compile needs torch.compile (PyTorch 2.0 or newer).")
            self.G_step, self.D_step = self._compiled(self.G, self.D)
        # The generator step computes no gradient for D: under DDP it calls D itself, not the DDP wrapper,
        # which would wait for D's gradients to sync them (set again by _distribute).
        self.D_in_generator_step = self.D_step

    def _compiled(self, G: nn.Module, D: nn.Module) -> tuple[nn.Module, nn.Module]:
        return torch.compile(G), self._compiled_discriminator(D)

    def _compiled_discriminator(self, D: nn.Module) -> nn.Module:
        """torch.compile cannot differentiate twice, which a penalty on D needs: D then stays eager."""
        return D if self.penalty is not None else torch.compile(D)

    def _distribute(self) -> None:
        """DDP for the hot path (``G_step``/``D_step``); ``G``/``D`` stay the raw modules for state dicts."""
        sync = self.spec.sync_batchnorm
        self.G_step, generator_norm = distributed.wrap_for_training(self.G, self.device, sync)
        self.D_step, discriminator_norm = distributed.wrap_for_training(self.D, self.device, sync)
        if self.config.compile:
            self.G_step, self.D_step = self._compiled(self.G_step, self.D_step)
        self.D_in_generator_step = self._compiled_discriminator(self.D) if self.config.compile else self.D
        self.distributed_info = {
            "world_size": self.world_size,
            "backend": distributed.backend(),
            "batch_size_per_rank": self.hp.batch_size // self.world_size,
            "batch_norm": {"generator": generator_norm, "discriminator": discriminator_norm},
        }

    def _rank_stream(self, phase: int) -> contextlib.AbstractContextManager:
        """Distributed: what G, D and the penalty draw inside comes from this rank's own stream."""
        if self.shard is None:
            return contextlib.nullcontext()
        return distributed.rank_random_stream(self.device, self.config.seed, self.rank, self.step, phase)

    def _write_config(self) -> None:
        payload = {
            "format_version": ckpt.FORMAT_VERSION,
            "train": dataclasses.asdict(self.config),
            "model": self.spec.name,
            "plugin": zoo().models.plugin_of(self.spec.name),
            "hyperparameters": dataclasses.asdict(self.hp),
            "image_shape": list(self.dataset.image_shape),
            "dataset": {
                "name": self.dataset.name,
                "split": self.dataset.split,
                "size": len(self.dataset),
                "fingerprint": self.dataset.fingerprint,
                "license": self.dataset.license,
            },
            "versions": _environment(),
            "device": str(self.device),
            "bf16_autocast": self.amp,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        if self.distributed_info is not None:
            payload["distributed"] = self.distributed_info
        text = json.dumps(payload, indent=2)
        ckpt.atomic_write_bytes(self.directory / ckpt.CONFIG_FILE, lambda f: f.write(text.encode()))

    # -- checkpoints ----------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "model": self.spec.name,
            "image_shape": list(self.dataset.image_shape),
            "hyperparameters": dataclasses.asdict(self.hp),
            "dataset_fingerprint": self.dataset.fingerprint,
            "config": json.loads(json.dumps(dataclasses.asdict(self.config))),
            "generator": self.G.state_dict(),
            "discriminator": self.D.state_dict(),
            "ema_generator": self.ema.model.state_dict() if self.ema else None,
            "optimizer_generator": self.opt_G.state_dict(),
            "optimizer_discriminator": self.opt_D.state_dict(),
            "rng": rng_state(self.device if self.world_size > 1 else None),
            "world_size": self.world_size,
            "sampler": self.sampler.state_dict(),
            "train_seconds": self.train_seconds,
        }

    def save_checkpoint(self) -> Path:
        path = ckpt.checkpoint_path(self.directory, self.step)
        if self.rank == 0:
            ckpt.save_checkpoint(path, self.state_dict())
            ckpt.prune_checkpoints(self.directory, self.config.keep_checkpoints)
        for callback in self.callbacks:
            callback.on_checkpoint(self, self.step, path)
        return path

    def _restore(self, saved_config: dict[str, Any]) -> None:
        state, path = distributed.on_main(lambda: ckpt.latest_checkpoint(self.directory))
        if state.get("model") != self.spec.name or list(state.get("image_shape", [])) != list(self.dataset.image_shape):
            raise ckpt.CheckpointError(
                f"{path} belongs to model {state.get('model')!r} at {state.get('image_shape')}, not "
                f"{self.spec.name!r} at {list(self.dataset.image_shape)}."
            )
        if state.get("dataset_fingerprint") != self.dataset.fingerprint:
            raise ckpt.CheckpointError(
                f"the dataset {self.dataset.qualified_name} differs from the one this run was trained on "
                f"(fingerprint {self.dataset.fingerprint} != {state.get('dataset_fingerprint')})."
            )
        try:
            self.G.load_state_dict(state["generator"])
            self.D.load_state_dict(state["discriminator"])
            if self.ema and state.get("ema_generator"):
                self.ema.model.load_state_dict(state["ema_generator"])
            self.opt_G.load_state_dict(state["optimizer_generator"])
            self.opt_D.load_state_dict(state["optimizer_discriminator"])
            self.sampler.load_state_dict(state["sampler"])
            set_rng_state(state["rng"], self.device if self.world_size > 1 else None)
        except (KeyError, RuntimeError, ValueError, TypeError) as exc:
            raise ckpt.CheckpointError(f"{path} does not fit this run: {str(exc).splitlines()[0]}") from None
        self.step = int(state["step"])
        self.train_seconds = float(state.get("train_seconds", 0.0))
        self.resumed_from = path
        distributed.on_main(lambda: self._truncate_metrics(self.step))
        if self.step >= self.config.steps:
            raise UsageError(
                f"{self.directory} is already at step {self.step}; pass a larger --steps to continue it."
            )

    def _truncate_metrics(self, step: int) -> None:
        """Drop metrics logged after the checkpoint we resume from: they will be logged again."""
        path = self.directory / "metrics.jsonl"
        if not path.exists():
            return
        kept = [json.dumps(record) for record in read_metrics(path) if record["step"] <= step]
        ckpt.atomic_write_bytes(path, lambda f: f.write("".join(line + "\n" for line in kept).encode()))

    # -- the hot path ---------------------------------------------------------------------------------
    def _real_batch(self) -> torch.Tensor:
        batch = to_model_range(self.images[self.sampler.next_indices()])
        return batch.contiguous(memory_format=self.memory_format)

    def train_step(self) -> tuple[torch.Tensor, torch.Tensor]:
        """All critic steps and one generator step; returns (D loss, G loss) as device tensors, no sync."""
        G, D, hp = self.G_step, self.D_step, self.hp
        batch = hp.batch_size
        for critic_step in range(hp.critic_steps):
            real = self._real_batch()
            z = torch.randn(batch, hp.latent_dim, device=self.device)
            if self.shard is not None:
                z = z[self.shard]  # every rank draws the global batch's latents and keeps its share
            last = critic_step == hp.critic_steps - 1
            with self.autocast(), self._rank_stream(critic_step):
                # The last critic step's fakes keep their graph and are reused for the generator step.
                with torch.no_grad() if not last else contextlib.nullcontext():
                    fake = G(z)
                d_loss = self.loss.discriminator_loss(D(real), D(fake.detach()))
                if self.penalty is not None:
                    d_loss = d_loss + hp.penalty_weight * self.penalty(D, real, fake.detach())
            self.opt_D.zero_grad(set_to_none=True)
            d_loss.backward()
            self.opt_D.step()
        with self.autocast(), self._rank_stream(hp.critic_steps), self._discriminator_frozen():
            g_loss = self.loss.generator_loss(self.D_in_generator_step(fake))
        self.opt_G.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_G.step()
        return d_loss.detach(), g_loss.detach()

    @contextlib.contextmanager
    def _discriminator_frozen(self) -> Iterator[None]:
        """For the generator step's forward: D's parameters out of the graph, so its backward skips D's weight
        gradients (1.05x dcgan, 1.03x vanilla; benchmarks/RESULTS.md, section 6) and D's .grad keeps the
        critic step's gradient, the one d_grad_norm reports."""
        trainable = [p for p in self.D.parameters() if p.requires_grad]
        for parameter in trainable:
            parameter.requires_grad_(False)
        try:
            yield
        finally:
            for parameter in trainable:
                parameter.requires_grad_(True)

    # -- the loop -------------------------------------------------------------------------------------
    def run(self) -> Run:
        if self.world_size == 1:
            return self._run()
        hint = (
            f"Checkpoints are in {self.directory}; continue with "
            f"`torchrun ... -m ganzoo train --resume {self.directory} --steps {self.config.steps}`."
        )
        with distributed.explain_collective_failures(hint):
            try:
                return self._run()
            except (TrainingDiverged, TrainingInterrupted) as exc:
                distributed.raised_on_every_rank(exc)  # the ranks agreed on it
                raise

    def _run(self) -> Run:
        start_step = self.step
        log_sums = torch.zeros(2, device=self.device)
        first_bad_step = torch.zeros((), dtype=torch.long, device=self.device)
        # images/s counts training time only, like train_seconds: callbacks (evaluations) are excluded.
        interval_start, interval_steps = self.train_seconds, 0
        with self._signals(), self._progress_bar(start_step) as advance:
            self.G.train(), self.D.train()
            while self.step < self.config.steps and not self._stop_requested:
                step_start = time.perf_counter()
                d_loss, g_loss = self.train_step()
                self.step += 1
                if self.ema:
                    self.ema.update(self.G, self.step)
                losses = torch.stack((d_loss.float(), g_loss.float()))
                log_sums += losses
                bad = ~torch.isfinite(losses).all()
                first_bad_step = torch.where(bad & (first_bad_step == 0), self.step, first_bad_step)
                interval_steps += 1
                self.train_seconds += time.perf_counter() - step_start

                log_due = self.step % self.config.log_every == 0 or self.step == self.config.steps
                checkpoint_due = (
                    self.config.checkpoint_every and self.step % self.config.checkpoint_every == 0
                ) or self.step == self.config.steps
                agreed_stop = None
                if self.world_size > 1 and (log_due or checkpoint_due):
                    # The ranks agree here only (a per-step agreement would stall the GPU): on the first
                    # non-finite step, on stopping (signals reach them at different steps), on mean losses.
                    agreed_stop = distributed.agree(first_bad_step, self._stop_signal)
                    if log_due:
                        distributed.average_(log_sums)
                if log_due or checkpoint_due or (self.world_size == 1 and self._stop_signal is not None):
                    self._check_finite(first_bad_step)
                if log_due:
                    elapsed = self.train_seconds - interval_start
                    record = self._log(log_sums / interval_steps, interval_steps, elapsed)
                    log_sums.zero_()
                    interval_start, interval_steps = self.train_seconds, 0
                advance(self.step, record if log_due else None)
                if self.config.sample_every and self.step % self.config.sample_every == 0:
                    self.write_samples()
                if checkpoint_due:
                    self.save_checkpoint()
                for callback in self.callbacks:
                    callback.on_step(self, self.step)
                if agreed_stop:
                    self._stop_signal = agreed_stop
                if self._stop_signal is not None and (self.world_size == 1 or agreed_stop):
                    self._interrupt()
        if self._stop_requested and self.world_size == 1:
            # Stopped early by a callback: log the last partial interval and keep the run resumable.
            self._check_finite(first_bad_step)
            if interval_steps:
                self._log(log_sums / interval_steps, interval_steps, self.train_seconds - interval_start)
            if not ckpt.checkpoint_path(self.directory, self.step).exists():
                self.save_checkpoint()
        if self.config.sample_every == 0 or self.step % self.config.sample_every:
            self.write_samples()
        self._write_final_generator()
        config = distributed.on_main(lambda: ckpt.read_run_config(self.directory))
        return Run(self.directory, self.step, config)

    def _check_finite(self, first_bad_step: torch.Tensor) -> None:
        bad_step = int(first_bad_step.item())
        if bad_step:
            kept = ckpt.list_checkpoints(self.directory)
            where = (
                f"the last good checkpoint, step {kept[-1][0]}, is kept in {kept[-1][1].parent}"
                if kept
                else "no checkpoint had been written yet"
            )
            raise TrainingDiverged(
                f"losses became non-finite at step {bad_step} of model {self.spec.name!r}; {where}. "
                f"Lower the learning rates (--set generator_lr=..., --set discriminator_lr=...) and train again."
            )

    def _log(self, mean_losses: torch.Tensor, steps: int, elapsed: float) -> dict[str, Any]:
        d_loss, g_loss = mean_losses.tolist()
        record = {
            "step": self.step,
            "d_loss": d_loss,
            "g_loss": g_loss,
            "d_grad_norm": float(_grad_norm(self.D)),
            "g_grad_norm": float(_grad_norm(self.G)),
            "images_per_second": steps * self.hp.batch_size * self.hp.critic_steps / max(elapsed, 1e-9),
            "train_seconds": self.train_seconds,
        }
        if self.rank == 0:
            with open(self.directory / "metrics.jsonl", "a") as handle:
                handle.write(json.dumps(record) + "\n")
        return record

    def sampling_generator(self) -> Generator:
        """The EMA generator when there is one (eval mode), else G."""
        return self.ema.model if self.ema else self.G

    @torch.no_grad()
    def write_samples(self) -> Path:
        G = self.sampling_generator()
        was_training = G.training
        G.eval()
        images = to_uint8(G(self.fixed_noise))
        G.train(was_training)
        path = self.directory / "samples" / f"step_{self.step:06d}.png"
        if self.rank == 0:
            save_grid(images.cpu(), path, model=self.spec.name, extra={"ganzoo:step": str(self.step)})
        return path

    def stop(self) -> None:
        """End the run after the current step, as if it had reached its step count (for callbacks)."""
        self._stop_requested = True

    def report_evaluation(self, results: dict[str, Any]) -> None:
        for callback in self.callbacks:
            callback.on_evaluation(self, self.step, results)

    def _write_final_generator(self) -> None:
        if self.rank != 0:
            return
        G = self.sampling_generator()
        state = {
            "step": self.step,
            "model": self.spec.name,
            "image_shape": list(self.dataset.image_shape),
            "hyperparameters": dataclasses.asdict(self.hp),
            "dataset_fingerprint": self.dataset.fingerprint,
            "ema_generator": G.state_dict(),
        }
        ckpt.save_checkpoint(self.directory / ckpt.FINAL_GENERATOR, state)

    # -- interruption ---------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _signals(self) -> Iterator[None]:
        def request_stop(signum, frame):  # noqa: ARG001
            if self._stop_signal is not None:  # a second Ctrl-C: stop at once
                raise KeyboardInterrupt
            self._stop_signal = signum

        previous = {}
        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                previous[signum] = signal.signal(signum, request_stop)
            except ValueError:  # not the main thread
                pass
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _interrupt(self) -> None:
        path = self.save_checkpoint()
        signum = self._stop_signal or signal.SIGINT
        launcher = "ganzoo" if self.world_size == 1 else "torchrun ... -m ganzoo"
        raise TrainingInterrupted(
            f"interrupted by {signal.Signals(signum).name} at step {self.step}; checkpoint saved to {path}. "
            f"Resume with: {launcher} train --resume {self.directory} --steps {self.config.steps}",
            signum,
        )

    @contextlib.contextmanager
    def _progress_bar(self, start_step: int) -> Iterator[Callable[[int, dict | None], None]]:
        if not self.config.progress or self.rank != 0:
            yield lambda step, record: None
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        from ganzoo.console import err_console

        columns = (
            TextColumn(f"[bold]{self.spec.name}[/]"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[status]}"),
        )
        with Progress(*columns, console=err_console, transient=False) as progress:
            task = progress.add_task("train", total=self.config.steps, completed=start_step, status="")

            def advance(step: int, record: dict | None) -> None:
                status = None
                if record is not None:
                    status = (
                        f"D {record['d_loss']:.3f}  G {record['g_loss']:.3f}  "
                        f"{record['images_per_second']:.0f} img/s"
                    )
                progress.update(task, completed=step, **({"status": status} if status else {}))

            yield advance


def train(
    model: str = "dcgan",
    dataset: str = "mnist-10k",
    steps: int = 2000,
    *,
    callbacks: list[Callback] | None = None,
    resume: str | os.PathLike | None = None,
    overwrite: bool = False,
    **config: Any,
) -> Run:
    """Train ``model`` on ``dataset`` for ``steps`` generator steps and return the :class:`Run`.

    Keyword arguments are :class:`TrainConfig` fields (``out``, ``seed``, ``overrides``, ``device`` ...).
    """
    config.setdefault("progress", False)
    trainer = Trainer(
        TrainConfig(model=model, dataset=dataset, steps=steps, **config),
        callbacks=callbacks,
        resume=resume,
        overwrite=overwrite,
    )
    return trainer.run()


__all__ = ["Callback", "Run", "TrainConfig", "Trainer", "train"]
