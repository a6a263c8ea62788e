"""Where and how a run computes: device, rank and world size, precision and memory format. Decided once,
when a Trainer is made (as Lightning's accelerator connector does), and passed down as one value that
every other part reads instead of asking the device or the process group again."""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass

import torch
from torch import nn

from ganzoo.engine import distributed
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
) -> Placement:
    """The run's placement; ``process`` is what :func:`distributed.setup` returned (rank, world, device)."""
    rank, world_size, rank_device = process
    device = rank_device if rank_device is not None else select_device(requested_device)
    cuda = device.type == "cuda"
    if amp is None:
        amp = cuda or (device.type == "cpu" and cpu_has_amx())
    # channels_last pays for convolutions on CUDA and, with bf16 autocast, on AMX CPUs (1.12-1.22x on top of
    # bf16 for the conv models); in fp32 on the CPU it was measured both faster and slower.
    if channels_last is None:
        convolutional = any(isinstance(m, nn.Conv2d) for m in discriminator.modules())
        channels_last = convolutional and (cuda or amp)
    shard = distributed.batch_shard(batch_size, rank, world_size) if world_size > 1 else None
    return Placement(
        device=device,
        amp=bool(amp),
        memory_format=torch.channels_last if channels_last else torch.contiguous_format,
        rank=rank,
        world_size=world_size,
        shard=shard,
    )


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


@functools.cache
def cpu_has_amx() -> bool:
    """Whether this CPU has AMX bf16 tiles, where bf16 autocast trains 1.2-1.8x faster (benchmarks/RESULTS.md)."""
    try:
        with open("/proc/cpuinfo") as handle:
            return any(line.startswith("flags") and " amx_bf16" in line for line in handle)
    except OSError:
        return False
