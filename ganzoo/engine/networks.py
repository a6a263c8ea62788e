"""G and D placed for training: on the placement's device and memory format, with their optimizers, the
EMA copy of G, and what the hot path calls (the raw modules, or compiled, or wrapped in DDP)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ganzoo.engine import distributed
from ganzoo.engine.ema import ExponentialMovingAverage
from ganzoo.engine.placement import Placement
from ganzoo.errors import UsageError
from ganzoo.interfaces import Discriminator, Generator
from ganzoo.spec import Hyperparameters


@dataclass
class Networks:
    G: Generator  # the raw modules: state dicts, sampling and the optimizers use these
    D: Discriminator
    opt_G: torch.optim.Optimizer
    opt_D: torch.optim.Optimizer
    ema: ExponentialMovingAverage | None
    G_step: nn.Module  # what the iteration calls for G: G itself, compiled or DDP-wrapped
    D_step: nn.Module  # ... and for D in the critic steps
    # The generator step computes no gradient for D: under DDP it calls D itself, not the DDP wrapper,
    # which would wait for D's gradients to sync them.
    D_in_generator_step: nn.Module
    distributed_info: dict[str, Any] | None = None  # under torchrun: world size, backend, batch norm

    def sampling_generator(self) -> Generator:
        """The EMA generator when there is one (eval mode), else G."""
        return self.ema.model if self.ema else self.G


def place_networks(
    G: Generator,
    D: Discriminator,
    *,
    hp: Hyperparameters,
    placement: Placement,
    ema_decay: float | None,
    compile: bool,
    has_penalty: bool,
    sync_batchnorm: bool,
) -> Networks:
    """Move G and D to ``placement``, make their optimizers and EMA, and what the iteration calls."""
    G.to(placement.device)
    D.to(placement.device)
    if placement.memory_format == torch.channels_last:
        G.to(memory_format=torch.channels_last)
        D.to(memory_format=torch.channels_last)
    adam = {"fused": True} if placement.fused_adam else {}
    opt_G = torch.optim.Adam(G.parameters(), lr=hp.generator_lr, betas=hp.generator_betas, **adam)
    opt_D = torch.optim.Adam(D.parameters(), lr=hp.discriminator_lr, betas=hp.discriminator_betas, **adam)
    if compile and not hasattr(torch, "compile"):
        raise UsageError("--compile needs torch.compile (PyTorch 2.0 or newer).")
    ema = ExponentialMovingAverage(G, ema_decay) if ema_decay is not None else None  # before DDP: plain BN
    G_step, D_step, info = G, D, None
    if placement.world_size > 1:
        G_step, generator_norm = distributed.wrap_for_training(G, placement.device, sync_batchnorm)
        D_step, discriminator_norm = distributed.wrap_for_training(D, placement.device, sync_batchnorm)
        info = {
            "world_size": placement.world_size,
            "backend": distributed.backend(),
            "batch_size_per_rank": hp.batch_size // placement.world_size,
            "batch_norm": {"generator": generator_norm, "discriminator": discriminator_norm},
        }
    D_in_generator_step = D
    if compile:
        # torch.compile cannot differentiate twice, which a penalty on D needs: D then stays eager.
        G_step = torch.compile(G_step)
        D_step = D_step if has_penalty else torch.compile(D_step)
        D_in_generator_step = D if has_penalty else (torch.compile(D) if placement.world_size > 1 else D_step)
    return Networks(G, D, opt_G, opt_D, ema, G_step, D_step, D_in_generator_step, info)
