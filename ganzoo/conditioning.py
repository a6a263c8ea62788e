"""Class labels for conditional models, kept out of the engine's hot path: the check that a dataset's labels
fit a conditional model, the number of classes taken from the dataset, and the conditional forward passes
(D's scores, and the auxiliary classifier's loss for ACGAN-style models)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ganzoo.datasets.base import ImageDataset
from ganzoo.errors import UsageError
from ganzoo.spec import Hyperparameters, ModelSpec

FOLDER_LABELS_HINT = (
    "folder:PATH datasets are labeled when every image sits in a first-level subfolder of PATH, named after "
    "its class (PATH/cat/1.png, PATH/dog/2.png), as torchvision's ImageFolder reads them."
)


def check_labels(dataset: ImageDataset, model: str) -> int:
    """The number of classes of ``dataset``, after checking that its labels can train conditional ``model``."""
    if dataset.labels is None or dataset.num_classes is None:
        raise UsageError(
            f"model {model!r} is class-conditional and needs labeled images, but {dataset.qualified_name} has "
            f"no labels. Choose a labeled dataset (every built-in one is). {FOLDER_LABELS_HINT}"
        )
    labels = dataset.labels
    if labels.dtype != torch.int64:
        raise UsageError(f"{dataset.qualified_name}: labels must be int64, got {labels.dtype}.")
    if len(labels) and (int(labels.min()) < 0 or int(labels.max()) >= dataset.num_classes):
        raise UsageError(
            f"{dataset.qualified_name}: labels must lie in 0..{dataset.num_classes - 1} (its number of classes), "
            f"but they span {int(labels.min())}..{int(labels.max())}."
        )
    return dataset.num_classes


def hyperparameters_for(spec: ModelSpec, hp: Hyperparameters, dataset: ImageDataset) -> Hyperparameters:
    """``hp`` with ``num_classes`` taken from ``dataset`` for a conditional ``spec``; unchanged otherwise."""
    if not spec.conditional:
        return hp
    classes = check_labels(dataset, spec.name)
    if hp.num_classes not in (0, classes):
        raise UsageError(
            f"--set num_classes={hp.num_classes} differs from the {classes} classes of "
            f"{dataset.qualified_name}; the number of classes comes from the dataset, leave it unset."
        )
    return hp.replace(num_classes=classes)


def split_output(output, auxiliary: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """D's output -> (scores, class logits or None)."""
    return output if auxiliary else (output, None)


class Conditioning:
    """The conditional forward passes of one model, for the training iteration."""

    def __init__(self, spec: ModelSpec) -> None:
        self.auxiliary = spec.auxiliary_classifier

    def discriminate(self, D: nn.Module, images: torch.Tensor, labels: torch.Tensor):
        """(scores, class loss): the auxiliary classifier's cross-entropy, or None without one."""
        scores, logits = split_output(D(images, labels), self.auxiliary)
        return scores, (None if logits is None else F.cross_entropy(logits.float(), labels))

    def bound(self, D: nn.Module, labels: torch.Tensor) -> nn.Module:
        """D as a function of images alone, for penalties (real and fake share the labels)."""
        return _LabelsBound(D, labels, self.auxiliary)


class _LabelsBound(nn.Module):
    def __init__(self, D: nn.Module, labels: torch.Tensor, auxiliary: bool) -> None:
        super().__init__()
        self.D, self.labels, self.auxiliary = D, labels, auxiliary

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return split_output(self.D(images, self.labels), self.auxiliary)[0]
