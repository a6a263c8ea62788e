"""The training data on the device: a uint8 image tensor batched by index in a seeded order, so the order
is part of a checkpoint and a resumed run sees exactly the batches an uninterrupted one would."""

from __future__ import annotations

from typing import Any

import torch

from ganzoo.datasets.base import to_model_range
from ganzoo.engine.placement import Placement
from ganzoo.errors import UsageError


class BatchSampler:
    """Random batches of a uint8 tensor by index: a permutation per epoch, drawn from its own generator.

    Under torchrun every rank draws the same global batches and keeps its ``shard`` of each, so the state
    (generator, permutation, position) is the same on all ranks and fits any number of them.
    """

    def __init__(
        self, size: int, batch_size: int, seed: int, device: torch.device, shard: slice | None = None
    ) -> None:
        if batch_size > size:
            raise UsageError(f"batch size {batch_size} is larger than the dataset ({size} images).")
        self.size, self.batch_size, self.device, self.shard = size, batch_size, device, shard
        self.generator = torch.Generator().manual_seed(seed)
        self.position = 0
        self.permutation = self._new_permutation()

    def _new_permutation(self) -> torch.Tensor:
        return torch.randperm(self.size, generator=self.generator).to(self.device)

    def next_indices(self) -> torch.Tensor:
        if self.position + self.batch_size > self.size:
            self.permutation, self.position = self._new_permutation(), 0
        indices = self.permutation[self.position : self.position + self.batch_size]
        self.position += self.batch_size
        return indices if self.shard is None else indices[self.shard]

    def state_dict(self) -> dict[str, Any]:
        return {
            "generator": self.generator.get_state(),
            "permutation": self.permutation.cpu(),
            "position": self.position,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self.permutation = state["permutation"].to(self.device)
        self.position = int(state["position"])


class RealBatches:
    """Each call: the next batch of real images in [-1, 1], on the device, in the placement's memory format."""

    def __init__(self, images: torch.Tensor, batch_size: int, seed: int, placement: Placement) -> None:
        self.images = images.to(placement.device)
        self.memory_format = placement.memory_format
        self.sampler = BatchSampler(len(images), batch_size, seed, placement.device, shard=placement.shard)

    def __call__(self) -> torch.Tensor:
        batch = to_model_range(self.images[self.sampler.next_indices()])
        return batch.contiguous(memory_format=self.memory_format)


class LabeledBatches(RealBatches):
    """For conditional models: each call, (images, their int64 labels), by the same sampler as RealBatches."""

    def __init__(
        self, images: torch.Tensor, labels: torch.Tensor, batch_size: int, seed: int, placement: Placement
    ) -> None:
        super().__init__(images, batch_size, seed, placement)
        self.labels = labels.to(placement.device)

    def __call__(self) -> tuple[torch.Tensor, torch.Tensor]:  # type: ignore[override]
        indices = self.sampler.next_indices()
        batch = to_model_range(self.images[indices]).contiguous(memory_format=self.memory_format)
        return batch, self.labels[indices]
