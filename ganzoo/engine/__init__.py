"""The training engine, one idea per module:

- ``config``: TrainConfig, the typed settings of a run (what ``config.json`` records);
- ``placement``: device, rank, world size, precision and memory format, decided once;
- ``rundir``: the run directory and the only code that writes its files;
- ``data``: the uint8 dataset on the device and its seeded batch order;
- ``networks``: G and D placed for training, their optimizers and EMA (``ema``);
- ``iteration``: one training iteration, the only code on the hot path;
- ``state``: what a checkpoint holds, written and restored in one place;
- ``metrics_log``: the metrics.jsonl log; ``progress``: the progress bar;
- ``interruption``: signals, and how a run ends early; ``distributed``: torchrun's process group;
- ``callbacks``: the hooks through which a running Trainer tells the code around it;
- ``trainer``: the Trainer that composes and drives them, and ``train()``.
"""

from ganzoo.engine.callbacks import Callback
from ganzoo.engine.config import TrainConfig
from ganzoo.engine.interruption import TrainingDiverged, TrainingInterrupted
from ganzoo.engine.placement import Placement, select_device
from ganzoo.engine.rundir import Run, read_metrics
from ganzoo.engine.trainer import Trainer, train

__all__ = [
    "Callback",
    "Placement",
    "Run",
    "TrainConfig",
    "Trainer",
    "TrainingDiverged",
    "TrainingInterrupted",
    "read_metrics",
    "select_device",
    "train",
]
