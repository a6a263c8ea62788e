"""Reference FIDs that give an extractor's scores a scale: the real-data floor, blurred digits, half of the
classes and uniform noise, each measured against one reference set.

The blurred-digits FID (Gaussian blur, sigma = 1) is the quality threshold the bench and the performance
work use: a generator that scores below it makes images closer to the real ones than blurred real digits.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ganzoo.errors import UsageError
from ganzoo.metrics.fid import FidEvaluator, FidResult

BLUR_SIGMA = 1.0
KEPT_CLASSES = (0, 1, 2, 3, 4)  # "only five of the ten classes"
REFERENCES = {
    "floor": "real images of the other split (the real-data floor)",
    "blurred": f"the same images blurred with a Gaussian of sigma {BLUR_SIGMA:g} pixel",
    "five_classes": f"the same images, only classes {', '.join(map(str, KEPT_CLASSES))}",
    "uniform_noise": "uniform noise images of the same shape and count",
}


def gaussian_blur(images: torch.Tensor, sigma: float = BLUR_SIGMA) -> torch.Tensor:
    """uint8 images (N, C, H, W) blurred by a separable Gaussian (radius 3 sigma, reflected borders)."""
    if sigma <= 0:
        raise UsageError(f"the blur's sigma must be positive; got {sigma}.")
    radius = max(1, math.ceil(3 * sigma))
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-(offsets**2) / (2 * sigma**2))
    kernel /= kernel.sum()
    n, channels, height, width = images.shape
    x = images.to(torch.float32).reshape(n * channels, 1, height, width)
    x = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode="reflect"), kernel.view(1, 1, 1, -1))
    x = F.conv2d(F.pad(x, (0, 0, radius, radius), mode="reflect"), kernel.view(1, 1, -1, 1))
    return x.round_().clamp_(0, 255).to(torch.uint8).reshape(n, channels, height, width)


def uniform_noise(n: int, image_shape: tuple[int, int, int], seed: int = 0) -> torch.Tensor:
    """``n`` uint8 images of independent uniform pixels in [0, 255]."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, *image_shape), generator=generator, dtype=torch.uint8)


def reference_images(
    images: torch.Tensor, labels: torch.Tensor | None, seed: int = 0, names: tuple[str, ...] | None = None
) -> dict[str, torch.Tensor]:
    """The image sets of :data:`REFERENCES` made from real ``images`` (uint8) and their ``labels``."""
    names = tuple(REFERENCES) if names is None else names
    unknown = [name for name in names if name not in REFERENCES]
    if unknown:
        raise UsageError(f"unknown reference {unknown[0]!r}; the references are: {', '.join(REFERENCES)}.")
    made: dict[str, torch.Tensor] = {}
    for name in names:
        if name == "floor":
            made[name] = images
        elif name == "blurred":
            made[name] = gaussian_blur(images)
        elif name == "five_classes":
            if labels is None:
                raise UsageError("the five-classes reference needs labelled images.")
            made[name] = images[torch.isin(labels, torch.tensor(KEPT_CLASSES))]
        else:
            made[name] = uniform_noise(len(images), tuple(images.shape[1:]), seed)
    return made


def reference_fids(
    evaluator: FidEvaluator,
    images: torch.Tensor,
    labels: torch.Tensor | None = None,
    *,
    seed: int = 0,
    names: tuple[str, ...] | None = None,
) -> dict[str, FidResult]:
    """FID and KID against ``evaluator``'s reference set of each set :func:`reference_images` makes.

    ``images`` must be real images from another split than the evaluator's (e.g. the evaluator holds the
    train split and ``images`` the test split); each reference is made from them.
    """
    made = reference_images(images, labels, seed, names)
    return {name: evaluator.evaluate(fakes) for name, fakes in made.items()}
