"""The classifier score, exp(E_x KL(p(y|x) || p(y))), from the class logits of an extractor's own classifier:
the Inception Score with the inception extractor, TF-GAN's "MNIST score" with ``lenet-mnist``.

An extractor offers it by a method ``logits_from_features(features) -> (N, classes)``: the logits come from
the features already extracted for FID, so the score costs no second pass over the images. The score is
computed by torchmetrics' ``InceptionScore`` on those logits. It grows with confident and varied class
predictions (at most the number of classes) and says nothing about how real the images look beside them, so
it is shown beside the real images' own value.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass

import torch
from torch import nn

MNIST_SCORE_SPLITS = 1  # TF-GAN's mnist_score scores the whole set at once
INCEPTION_SCORE_SPLITS = 10  # Salimans et al. and torch-fidelity: the mean over 10 splits


@dataclass(frozen=True)
class ClassifierScore:
    name: str  # "Inception Score", or "classifier score (lenet-mnist)" for another extractor's classifier
    value: float  # the mean over the splits
    std: float | None  # over the splits; None with one split (no spread is known)
    splits: int
    num_classes: int  # the score's maximum

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class LogitsPassThrough(nn.Module):
    """Hands precomputed logits to torchmetrics' InceptionScore as float64."""

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        return logits.to(torch.float64)


def has_classifier(extractor: nn.Module) -> bool:
    return callable(getattr(extractor, "logits_from_features", None))


def score_name(extractor_name: str) -> str:
    return "Inception Score" if extractor_name == "inception" else f"classifier score ({extractor_name})"


@torch.inference_mode()
def classifier_score(
    extractor: nn.Module,
    features: torch.Tensor,
    extractor_name: str,
    *,
    splits: int | None = None,
    seed: int = 0,
) -> ClassifierScore | None:
    """The classifier score of a set from its features, or None when the extractor has no classifier."""
    if not has_classifier(extractor):
        return None
    from torchmetrics.image.inception import InceptionScore

    if splits is None:
        splits = INCEPTION_SCORE_SPLITS if extractor_name == "inception" else MNIST_SCORE_SPLITS
    splits = max(1, min(splits, len(features)))
    parameter = next(extractor.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    logits = extractor.logits_from_features(features.to(device)).to("cpu", torch.float64)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*will save all extracted features.*")
        metric = InceptionScore(feature=LogitsPassThrough(), splits=splits)
    metric.update(logits)
    # InceptionScore shuffles with torch's global generator: seed it here, leave the caller's untouched.
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*degrees of freedom.*")  # the std of a single split
        torch.manual_seed(seed)
        mean, std = metric.compute()
    std_value = float(std) if splits > 1 and math.isfinite(float(std)) else None
    return ClassifierScore(score_name(extractor_name), float(mean), std_value, splits, int(logits.shape[1]))
