"""The training state: what a checkpoint holds and the one place that writes it and reads it back (G, D,
the EMA generator, both optimizers, the data order, every RNG), so a resumed run continues exactly."""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganzoo import checkpoint as ckpt
from ganzoo.console import warn
from ganzoo.engine import distributed, schema
from ganzoo.engine.data import BatchSampler
from ganzoo.engine.networks import Networks
from ganzoo.engine.placement import Placement


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


def run_identity(spec, hp, dataset) -> dict[str, Any]:
    """What makes a checkpoint this run's: model, image shape, hyperparameters and dataset fingerprint."""
    return {
        "model": spec.name,
        "image_shape": list(dataset.image_shape),
        "hyperparameters": dataclasses.asdict(hp),
        "dataset_fingerprint": dataset.fingerprint,
    }


class Checkpointer:
    """Writes and restores a run's checkpoints. ``identity`` (model, image shape, hyperparameters, dataset
    fingerprint) is stored in each and must match on restore."""

    def __init__(
        self,
        run_dir: Path,
        identity: dict[str, Any],
        networks: Networks,
        sampler: BatchSampler,
        placement: Placement,
        config: Any,  # the run's TrainConfig, recorded in every checkpoint
        keep: int,
    ) -> None:
        self.run_dir, self.identity, self.networks, self.sampler = Path(run_dir), identity, networks, sampler
        self.placement, self.config, self.keep = placement, config, keep
        # Distributed: each rank saves and restores its own GPU's RNG only.
        self._cuda_device = placement.device if placement.world_size > 1 else None

    def state_dict(self, step: int, train_seconds: float) -> dict[str, Any]:
        nets = self.networks
        return {
            "step": step,
            **self.identity,
            "config": json.loads(json.dumps(dataclasses.asdict(self.config))),
            "generator": nets.G.state_dict(),
            "discriminator": nets.D.state_dict(),
            "ema_generator": nets.ema.model.state_dict() if nets.ema else None,
            "optimizer_generator": nets.opt_G.state_dict(),
            "optimizer_discriminator": nets.opt_D.state_dict(),
            "rng": rng_state(self._cuda_device),
            "world_size": self.placement.world_size,
            "sampler": self.sampler.state_dict(),
            "train_seconds": train_seconds,
        }

    def save(self, step: int, train_seconds: float) -> Path:
        path = ckpt.checkpoint_path(self.run_dir, step)
        if self.placement.is_main:
            ckpt.save_checkpoint(path, self.state_dict(step, train_seconds))
            ckpt.prune_checkpoints(self.run_dir, self.keep)
        return path

    def restore(self, dataset_name: str) -> tuple[int, float, Path]:
        """Load the newest checkpoint into the networks, the sampler and the RNGs: (step, train seconds, path)."""
        state, path = distributed.on_main(self._newest_loadable)
        identity = self.identity
        if (
            state.get("model") != identity["model"]
            or list(state.get("image_shape", [])) != identity["image_shape"]
        ):
            raise ckpt.CheckpointError(
                f"{path} belongs to model {state.get('model')!r} at {state.get('image_shape')}, not "
                f"{identity['model']!r} at {identity['image_shape']}."
            )
        if state.get("dataset_fingerprint") != identity["dataset_fingerprint"]:
            raise ckpt.CheckpointError(
                f"the dataset {dataset_name} differs from the one this run was trained on "
                f"(fingerprint {identity['dataset_fingerprint']} != {state.get('dataset_fingerprint')})."
            )
        nets = self.networks
        schema.check_checkpoint(state, path, nets, self.sampler.size)  # before torch trusts any of it
        try:
            nets.G.load_state_dict(state["generator"])
            nets.D.load_state_dict(state["discriminator"])
            if nets.ema:
                nets.ema.model.load_state_dict(state["ema_generator"])
            nets.opt_G.load_state_dict(state["optimizer_generator"])
            nets.opt_D.load_state_dict(state["optimizer_discriminator"])
            self.sampler.load_state_dict(state["sampler"])
            set_rng_state(state["rng"], self._cuda_device)
        except (KeyError, RuntimeError, ValueError, TypeError) as exc:
            raise ckpt.CheckpointError(f"{path} does not fit this run: {str(exc).splitlines()[0]}") from None
        return int(state["step"]), float(state.get("train_seconds", 0.0)), path

    def _newest_loadable(self) -> tuple[dict[str, Any], Path]:
        """The newest checkpoint that loads. Newer ones that do not are renamed aside (``.damaged``: kept for
        the user, out of the run's checkpoints) with a warning naming them; the count is pruned to ``keep``."""
        state, path, skipped = ckpt.newest_loadable_checkpoint(self.run_dir)
        for damaged, reason in skipped:
            aside = damaged.with_name(damaged.name + ckpt.DAMAGED_SUFFIX)
            damaged.replace(aside)
            warn(f"{reason} It was renamed to {aside.name}; resuming from {path} instead.")
        ckpt.prune_checkpoints(self.run_dir, self.keep)
        return state, path
