"""The training log: losses summed on the device step by step (no host sync), and every ``log_every`` steps
one metrics.jsonl record of their means, gradient norms and images per second of training time."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ganzoo.engine import distributed
from ganzoo.engine.rundir import RunDirectory


def grad_norm(module: nn.Module) -> torch.Tensor:
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return torch.zeros(())
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))


class MetricsLog:
    """Accumulates one logging interval; :meth:`write` ends it. Images/s counts training time only, like
    ``train_seconds``: callbacks (evaluations) are excluded."""

    def __init__(
        self, run_dir: RunDirectory, device: torch.device, images_per_step: int, train_seconds: float
    ) -> None:
        self.run_dir, self.images_per_step = run_dir, images_per_step
        self.sums = torch.zeros(2, device=device)
        self.first_bad_step = torch.zeros((), dtype=torch.long, device=device)  # 0: every loss was finite
        self.interval_start, self.interval_steps = train_seconds, 0

    def add(self, step: int, d_loss: torch.Tensor, g_loss: torch.Tensor) -> None:
        losses = torch.stack((d_loss.float(), g_loss.float()))
        self.sums += losses
        bad = ~torch.isfinite(losses).all()
        self.first_bad_step = torch.where(bad & (self.first_bad_step == 0), step, self.first_bad_step)
        self.interval_steps += 1

    def bad_step(self) -> int:
        """The first step with a non-finite loss, 0 if none (a host sync)."""
        return int(self.first_bad_step.item())

    def average_over_ranks(self) -> None:
        distributed.average_(self.sums)

    def write(self, step: int, train_seconds: float, G: nn.Module, D: nn.Module) -> dict[str, Any] | None:
        """Write the interval's record (None if it is empty) and start a new interval."""
        if not self.interval_steps:
            return None
        d_loss, g_loss = (self.sums / self.interval_steps).tolist()
        elapsed = train_seconds - self.interval_start
        record = {
            "step": step,
            "d_loss": d_loss,
            "g_loss": g_loss,
            "d_grad_norm": float(grad_norm(D)),
            "g_grad_norm": float(grad_norm(G)),
            "images_per_second": self.interval_steps * self.images_per_step / max(elapsed, 1e-9),
            "train_seconds": train_seconds,
        }
        self.run_dir.append_metrics(record)
        self.sums.zero_()
        self.interval_start, self.interval_steps = train_seconds, 0
        return record
