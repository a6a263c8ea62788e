"""What a running Trainer tells the code around it: the Callback hooks (the bench's evaluation and progress
display and the TensorBoard logger are callbacks) and the list that calls them in order."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from ganzoo.engine.trainer import Trainer


class Callback:
    """Hooks into a running Trainer; subclass and override what you need (the bench does)."""

    def on_step(self, trainer: Trainer, step: int) -> None:
        """After each generator step; ``trainer.step`` is the number of completed steps."""

    def on_evaluation_start(self, trainer: Trainer, step: int, what: str) -> None:
        """Before an evaluation announced through :meth:`Trainer.report_evaluation_start` (``what`` says
        what is measured, for a progress display)."""

    def on_evaluation(self, trainer: Trainer, step: int, results: dict[str, Any]) -> None:
        """After an evaluation reported through :meth:`Trainer.report_evaluation`."""

    def on_checkpoint(self, trainer: Trainer, step: int, path: Path) -> None:
        """After a checkpoint was written to ``path``."""

    def on_log(self, trainer: Trainer, step: int, record: dict[str, Any]) -> None:
        """After ``record`` (losses, gradient norms, images/s) was appended to metrics.jsonl."""

    def on_samples(self, trainer: Trainer, step: int, images: torch.Tensor) -> None:
        """After a fixed-noise sample grid of these uint8 images (N, C, H, W) was written."""

    def on_run_end(self, trainer: Trainer) -> None:
        """When :meth:`Trainer.run` returns or raises (close files here)."""


class Callbacks(list):
    """The run's callbacks; ``notify(trainer, "on_step", step)`` calls that hook of each, in order."""

    def notify(self, trainer: Trainer, hook: str, *args: Any) -> None:
        for callback in self:
            getattr(callback, hook)(trainer, *args)
