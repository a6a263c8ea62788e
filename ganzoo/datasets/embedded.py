"""``mnist-10k``: real MNIST digits shipped inside the package, so everything works with no network."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from ganzoo.datasets.base import Availability, DatasetOptions, DatasetSource, ImageDataset

EMBEDDED_FILE = Path(__file__).resolve().parent.parent / "data" / "mnist10k.npz"
MNIST_LICENSE = "MNIST (LeCun, Cortes, Burges), CC BY-SA 3.0; copyright Yann LeCun and Corinna Cortes"


@lru_cache(maxsize=2)
def _load_split(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    with np.load(EMBEDDED_FILE, allow_pickle=False) as archive:
        images = torch.from_numpy(archive[f"{split}_images"].copy())
        labels = torch.from_numpy(archive[f"{split}_labels"].astype(np.int64))
    return images, labels


class EmbeddedMnist(DatasetSource):
    name = "mnist-10k"
    summary = "the first 10,000 MNIST training digits and the 10,000 test digits, shipped with ganzoo"
    license = MNIST_LICENSE

    def load(self, split: str, options: DatasetOptions) -> ImageDataset:
        self.check_split(split)
        images, labels = _load_split(split)
        return ImageDataset(self.name, split, images, labels, self.license, num_classes=10)

    def availability(self, options: DatasetOptions) -> Availability:
        return Availability("embedded", str(EMBEDDED_FILE), EMBEDDED_FILE.stat().st_size)
