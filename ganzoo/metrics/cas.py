"""Classification accuracy score (Ravuri & Vinyals 2019): how well a classifier trained only on a
conditional model's images classifies the real test split, beside the same recipe trained on as many real
training images (the ceiling). FID does not predict it: it asks whether the images are usable training data.

The recipe is fixed so that scores are comparable: a small CNN (two 3x3 convolution + max-pool blocks of 16
and 32 channels, a 128-unit hidden layer), Adam lr 1e-3, batches of 64, a fixed number of optimizer steps
(625: four epochs of 10,000 images, whatever the training set's size, so that a larger set is not also
trained for longer), no augmentation, seeded initialisation and batch order. It is deterministic given its
seed on a given machine and thread count.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ganzoo.datasets.base import ImageDataset, seeded_choice, to_model_range
from ganzoo.errors import UsageError
from ganzoo.interfaces import Generator, balanced_labels


@dataclass(frozen=True)
class ClassifierRecipe:
    """The fixed classifier every CAS, ceiling and augmentation figure is measured with."""

    steps: int = 625  # optimizer steps (4 epochs of 10,000 images at batch 64), whatever the set's size
    batch_size: int = 64  # images per step
    learning_rate: float = 1e-3  # Adam
    width: int = 16  # channels of the first convolution; the second has twice as many
    hidden: int = 128  # units of the hidden fully connected layer

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


DEFAULT_RECIPE = ClassifierRecipe()
DEFAULT_IMAGES = 10_000  # N: generated images (and real ones for the ceiling) per evaluation


class SmallCNN(nn.Module):
    def __init__(self, image_shape: tuple[int, int, int], num_classes: int, recipe: ClassifierRecipe) -> None:
        super().__init__()
        channels, height, width = image_shape
        w = recipe.width
        self.net = nn.Sequential(
            nn.Conv2d(channels, w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(w, 2 * w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(2 * w * (height // 4) * (width // 4), recipe.hidden), nn.ReLU(),
            nn.Linear(recipe.hidden, num_classes),
        )  # fmt: skip

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images)


def train_classifier(
    images: torch.Tensor,
    labels: torch.Tensor,
    num_classes: int,
    *,
    seed: int,
    recipe: ClassifierRecipe = DEFAULT_RECIPE,
) -> SmallCNN:
    """The recipe trained on uint8 ``images`` (N, C, H, W) with int64 ``labels``, on the CPU; eval mode."""
    if len(images) != len(labels) or len(images) == 0:
        raise UsageError(
            f"the classifier needs as many labels as images, and some; got {len(images)} and {len(labels)}."
        )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = SmallCNN(tuple(images.shape[1:]), num_classes, recipe)
    order = torch.Generator().manual_seed(seed + 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=recipe.learning_rate)
    inputs = to_model_range(images)
    labels = labels.to(torch.int64)
    permutation, position = torch.randperm(len(inputs), generator=order), 0
    model.train()
    for _ in range(recipe.steps):
        if position + recipe.batch_size > len(inputs):
            permutation, position = torch.randperm(len(inputs), generator=order), 0
        batch = permutation[position : position + recipe.batch_size]
        position += recipe.batch_size
        loss = F.cross_entropy(model(inputs[batch]), labels[batch])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return model.eval()


@torch.no_grad()
def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000) -> float:
    """Fraction of uint8 ``images`` the classifier labels correctly."""
    correct = 0
    for start in range(0, len(images), batch_size):
        logits = model(to_model_range(images[start : start + batch_size]))
        correct += int((logits.argmax(1) == labels[start : start + batch_size]).sum())
    return correct / len(images)


def real_subset(dataset: ImageDataset, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` images of ``dataset`` with their labels, drawn without replacement with ``seed`` (all if fewer)."""
    if dataset.labels is None:
        raise UsageError(
            f"{dataset.qualified_name} has no labels; a classifier cannot be trained or tested on it."
        )
    chosen = seeded_choice(len(dataset), n, seed)  # in the order drawn
    return dataset.images[chosen], dataset.labels[chosen]


def generated_set(G: Generator, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` images of a conditional G, every class equally often (within one), as uint8 with their labels."""
    from ganzoo.metrics.fid import sample_uint8

    if not G.conditional:
        raise UsageError("CAS needs a class-conditional model (one whose generator takes labels).")
    labels = balanced_labels(n, G.num_classes)
    images = sample_uint8(G, n, generator=torch.Generator().manual_seed(seed), labels=labels)
    return images, labels


def check_held_out(test: ImageDataset, trained_on: set[str]) -> None:
    """Refuse to test on a split whose images a model or classifier trained on (by dataset fingerprint)."""
    if test.fingerprint in trained_on:
        raise UsageError(
            f"{test.qualified_name} holds the images the model was trained on, so it cannot measure CAS; test on "
            "a split it never saw (e.g. NAME:test for a model trained on NAME:train). A folder: dataset has one "
            "split only."
        )


def classification_accuracy_score(
    G: Generator,
    test: ImageDataset,
    *,
    trained_on: set[str],
    n: int = DEFAULT_IMAGES,
    seed: int = 0,
    recipe: ClassifierRecipe = DEFAULT_RECIPE,
) -> dict[str, Any]:
    """CAS of conditional ``G`` on the real ``test`` split: the recipe trained on ``n`` generated images with
    balanced labels, tested on all of ``test``. ``trained_on`` holds the fingerprints of every dataset G
    (and anything it was derived from) trained on; ``test`` must not be among them."""
    check_held_out(test, trained_on)
    if test.labels is None or test.num_classes != G.num_classes:
        raise UsageError(
            f"{test.qualified_name} has {test.num_classes or 'no'} classes but the generator has {G.num_classes}."
        )
    images, labels = generated_set(G, n, seed)
    classifier = train_classifier(images, labels, G.num_classes, seed=seed, recipe=recipe)
    return {
        "cas": accuracy(classifier, test.images, test.labels),
        "n_generated": n,
        **_provenance(test, seed, recipe),
    }


def real_data_ceiling(
    train: ImageDataset,
    test: ImageDataset,
    *,
    n: int = DEFAULT_IMAGES,
    seed: int = 0,
    recipe: ClassifierRecipe = DEFAULT_RECIPE,
) -> dict[str, Any]:
    """The recipe trained on ``n`` real images of ``train`` (all of it if smaller), tested on ``test``."""
    check_held_out(test, {train.fingerprint})
    images, labels = real_subset(train, n, seed)
    classifier = train_classifier(images, labels, train.num_classes or 0, seed=seed, recipe=recipe)
    return {
        "ceiling": accuracy(classifier, test.images, test.labels),
        "n_real": len(images),
        "training_split": train.qualified_name,
        **_provenance(test, seed, recipe),
    }


def _provenance(test: ImageDataset, seed: int, recipe: ClassifierRecipe) -> dict[str, Any]:
    return {
        "test_split": test.qualified_name,
        "test_fingerprint": test.fingerprint,
        "n_test": len(test),
        "seed": seed,
        "recipe": recipe.as_dict(),
    }
