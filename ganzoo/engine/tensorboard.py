"""TensorBoard for a training run (``ganzoo train --tensorboard``): a Callback that writes what metrics.jsonl
holds (losses, gradient norms, images/s), every evaluation and the fixed-noise sample grids as event files
in the run directory's ``tensorboard/`` folder. Needs the ``tensorboard`` package (``ganzoo[tensorboard]``)."""

from __future__ import annotations

from typing import Any

import torch

from ganzoo.engine.trainer import Callback, Trainer
from ganzoo.errors import UsageError
from ganzoo.images import make_grid, square_grid_shape

EVENTS_DIR = "tensorboard"
SCALARS = {  # metrics.jsonl field -> TensorBoard tag
    "d_loss": "loss/discriminator",
    "g_loss": "loss/generator",
    "d_grad_norm": "grad_norm/discriminator",
    "g_grad_norm": "grad_norm/generator",
    "images_per_second": "speed/images_per_second",
}


def summary_writer_class():
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise UsageError(
            "--tensorboard needs the tensorboard package: pip install 'ganzoo[tensorboard]' "
            "(or pip install tensorboard)."
        ) from None
    return SummaryWriter


class TensorBoardLogger(Callback):
    """Writes on the main process only; a resumed run drops the events logged after its checkpoint."""

    def __init__(self) -> None:
        self.writer_class = summary_writer_class()  # fails before the run starts, not at its first log
        self.writer = None

    def _writer(self, trainer: Trainer):
        if self.writer is None and trainer.placement.is_main:
            self.writer = self.writer_class(
                log_dir=str(trainer.directory / EVENTS_DIR), purge_step=trainer.step or None
            )
        return self.writer

    def on_log(self, trainer: Trainer, step: int, record: dict[str, Any]) -> None:
        writer = self._writer(trainer)
        if writer is None:
            return
        for field, tag in SCALARS.items():
            if isinstance(record.get(field), (int, float)):
                writer.add_scalar(tag, record[field], step)

    def on_evaluation(self, trainer: Trainer, step: int, results: dict[str, Any]) -> None:
        writer = self._writer(trainer)
        if writer is None:
            return
        for name, value in results.items():
            if name not in ("step", "train_seconds") and isinstance(value, (int, float)):
                writer.add_scalar(f"eval/{name}", value, step)

    def on_samples(self, trainer: Trainer, step: int, images: torch.Tensor) -> None:
        writer = self._writer(trainer)
        if writer is None:
            return
        grid = make_grid(images, *square_grid_shape(len(images)))  # uint8 (H, W, C), as the PNG grids
        writer.add_image("samples", grid, step, dataformats="HWC")

    def on_run_end(self, trainer: Trainer) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
