"""Where and how a run computes: device, rank and world size, precision and memory format. Decided once,
when a Trainer is made (as Lightning's accelerator connector does), and passed down as one value that
every other part reads instead of asking the device or the process group again."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ganzoo.engine import distributed, precision
from ganzoo.errors import UsageError


@dataclass(frozen=True)
class Placement:
    device: torch.device  # where the networks, the data and the random draws live
    amp: bool = False  # bf16 autocast around the forward passes
    memory_format: torch.memory_format = torch.contiguous_format  # of the networks and every real batch
    rank: int = 0  # this process's rank under torchrun; 0 alone writes files and prints
    world_size: int = 1  # processes training together
    shard: slice | None = None  # this rank's part of every global batch; None in one process

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def fused_adam(self) -> bool:
        """Fused Adam: one kernel per step instead of a loop over parameters (1.3x on the MLP models on a CPU)."""
        return self.device.type in ("cuda", "cpu")

    def autocast(self) -> contextlib.AbstractContextManager:
        if not self.amp:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)


def decide_placement(
    *,
    requested_device: str,
    amp: bool | None,
    channels_last: bool | None,
    discriminator: nn.Module,
    batch_size: int,
    process: tuple[int, int, torch.device | None],
    probe_key: str,
    make_iteration: Callable[[Placement], Callable[[], Any]],
) -> tuple[Placement, dict[str, Any]]:
    """The run's placement and how its precision was chosen (for config.json).

    ``process`` is what :func:`distributed.setup` returned (rank, world size, device). On CUDA, bf16
    autocast and (for convolution models) channels_last are the rule. On the CPU the settings left open
    (``None``) are measured in single-process runs: ``make_iteration(candidate)`` returns one training
    iteration of the model on copies of its networks in that placement, and :mod:`ganzoo.engine.precision`
    times them once per machine and model configuration.
    """
    rank, world_size, rank_device = process
    device = rank_device if rank_device is not None else select_device(requested_device)
    convolutional = any(isinstance(m, nn.Conv2d) for m in discriminator.modules())
    shard = distributed.batch_shard(batch_size, rank, world_size) if world_size > 1 else None

    def placed(setting: precision.Setting) -> Placement:
        fmt = torch.channels_last if setting.channels_last else torch.contiguous_format
        return Placement(device, setting.amp, fmt, rank=rank, world_size=world_size, shard=shard)

    if device.type != "cpu":
        rule = device.type == "cuda"  # bf16 and channels_last pay on CUDA; MPS stays in fp32
        setting = precision.Setting(
            amp=rule if amp is None else amp,
            channels_last=(rule and convolutional) if channels_last is None else channels_last,
        )
        return placed(setting), {"chosen_by": "rule" if None in (amp, channels_last) else "request"}
    allowed = precision.candidates(amp, channels_last, convolutional)
    if world_size > 1:
        # gloo on CPUs is for trying distributed training out, and a probe on rank 0 would keep the others
        # waiting at their first collective: left-open settings are fp32 and contiguous there.
        setting = precision.Setting(bool(amp), bool(channels_last))
        return placed(setting), {"chosen_by": "request" if len(allowed) == 1 else "rule"}
    setting, how = precision.choose(allowed, probe_key, lambda s: make_iteration(placed(s)))
    return placed(setting), how


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
        raise UsageError(
            f"--device {requested!r} is not a torch device; use auto, cpu, cuda or cuda:N."
        ) from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda was asked for, but CUDA is not available here; use --device cpu.")
    if device.type == "mps" and not (
        getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
    ):
        raise UsageError("--device mps was asked for, but MPS is not available here; use --device cpu.")
    return device
