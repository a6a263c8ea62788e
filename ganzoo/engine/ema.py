"""The exponential moving average of G: a smoother generator than the last step's, used for sampling and
evaluation (Karras et al. 2018; Yazıcı et al. 2019)."""

from __future__ import annotations

import copy

import torch

from ganzoo.interfaces import Generator


class ExponentialMovingAverage:
    """EMA of G's parameters (buffers such as batch-norm statistics are copied)."""

    def __init__(self, generator: Generator, decay: float) -> None:
        self.model = copy.deepcopy(generator).eval().requires_grad_(False)
        self.decay = decay
        self._target = list(self.model.parameters())
        self._target_buffers = list(self.model.buffers())

    @torch.no_grad()
    def update(self, generator: Generator, step: int) -> None:
        decay = min(self.decay, (1.0 + step) / (10.0 + step))
        torch._foreach_lerp_(self._target, list(generator.parameters()), 1.0 - decay)
        for target, source in zip(self._target_buffers, generator.buffers()):
            target.copy_(source)
