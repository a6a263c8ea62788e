"""Differentiable augmentation (DiffAugment, Zhao et al. 2020, arXiv:2006.10738): random transforms applied
to every batch D sees, real and generated alike, and differentiable, so G learns through them. With few
training images it keeps D from memorising them. Augmentations are named objects in a registry, like losses.

The built-ins follow the paper's reference code for images in [-1, 1]: ``color`` (brightness, saturation,
contrast), ``translation`` (up to 1/8 of the side, zero padding) and ``cutout`` (a square of half the side set
to zero). Each image draws its own parameters from torch's global random stream, which the engine seeds.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import ClassVar

import torch
import torch.nn.functional as F

from ganzoo.errors import UsageError


class Augmentation(abc.ABC):
    """A random, differentiable transform of a batch of images (N, C, H, W) in [-1, 1], drawn per image."""

    name: ClassVar[str]
    summary: ClassVar[str] = ""

    @abc.abstractmethod
    def __call__(self, images: torch.Tensor) -> torch.Tensor: ...


def _per_image(images: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """One uniform draw in [low, high) per image, shaped to broadcast over (C, H, W)."""
    draw = torch.rand(images.shape[0], 1, 1, 1, device=images.device, dtype=images.dtype)
    return low + (high - low) * draw


class Color(Augmentation):
    name = "color"
    summary = "random brightness (+-0.5), saturation (x0-2) and contrast (x0.5-1.5) per image"

    def __call__(self, images):
        images = images + _per_image(images, -0.5, 0.5)
        mean = images.mean(dim=1, keepdim=True)
        images = (images - mean) * _per_image(images, 0.0, 2.0) + mean
        mean = images.mean(dim=(1, 2, 3), keepdim=True)
        return (images - mean) * _per_image(images, 0.5, 1.5) + mean


class Translation(Augmentation):
    name = "translation"
    summary = "random shift by up to 1/8 of the image side, zero padding"
    ratio = 0.125

    def __call__(self, images):
        n, _, height, width = images.shape
        shift_y, shift_x = int(height * self.ratio + 0.5), int(width * self.ratio + 0.5)
        device = images.device
        dy = torch.randint(-shift_y, shift_y + 1, (n, 1), device=device)
        dx = torch.randint(-shift_x, shift_x + 1, (n, 1), device=device)
        padded = F.pad(images, (shift_x, shift_x, shift_y, shift_y))
        rows = torch.arange(height, device=device) + shift_y + dy  # (N, H) rows of the padded image
        columns = torch.arange(width, device=device) + shift_x + dx  # (N, W)
        batch = torch.arange(n, device=device)[:, None, None]
        # Advanced indexing puts the indexed dimensions first: (N, H, W, C).
        shifted = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], columns[:, None, :]]
        return shifted.permute(0, 3, 1, 2).contiguous(memory_format=_format_of(images))


class Cutout(Augmentation):
    name = "cutout"
    summary = "a random square of half the image side set to zero"
    ratio = 0.5

    def __call__(self, images):
        n, _, height, width = images.shape
        size_y, size_x = int(height * self.ratio + 0.5), int(width * self.ratio + 0.5)
        device = images.device
        # The square's centre, anywhere in the image (the square may be clipped at the border).
        cy = torch.randint(0, height + (1 - size_y % 2), (n, 1, 1), device=device)
        cx = torch.randint(0, width + (1 - size_x % 2), (n, 1, 1), device=device)
        top, left = cy - size_y // 2, cx - size_x // 2
        rows = torch.arange(height, device=device)[None, :, None]
        columns = torch.arange(width, device=device)[None, None, :]
        inside = (rows >= top) & (rows < top + size_y) & (columns >= left) & (columns < left + size_x)
        return images * (~inside).unsqueeze(1).to(images.dtype)


def _format_of(images: torch.Tensor) -> torch.memory_format:
    channels_last = images.is_contiguous(memory_format=torch.channels_last) and not images.is_contiguous()
    return torch.channels_last if channels_last else torch.contiguous_format


BUILTIN_AUGMENTATIONS: tuple[Augmentation, ...] = (Color(), Translation(), Cutout())


class Pipeline:
    """Augmentations applied in order; what the training iteration calls on each batch before D."""

    def __init__(self, augmentations: Sequence[Augmentation]) -> None:
        self.augmentations = tuple(augmentations)
        self.names = [a.name for a in self.augmentations]

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        for augmentation in self.augmentations:
            images = augmentation(images)
        return images


def parse_augment(text: str | Sequence[str] | None) -> list[str]:
    """``"translation,cutout"`` (the CLI's form) or a list of names -> a list of names; empty for none."""
    if text is None:
        return []
    parts = text.split(",") if isinstance(text, str) else list(text)
    names = [part.strip() for part in parts if part.strip()]
    if isinstance(text, str) and text.strip().lower() in ("none", ""):
        return []
    if len(set(names)) != len(names):
        raise UsageError(f"--augment names an augmentation twice: {','.join(names)}.")
    return names


def build_pipeline(names: Sequence[str]) -> Pipeline | None:
    """The registered augmentations called ``names`` (an unknown name is a UsageError), or None for none."""
    if not names:
        return None
    from ganzoo.registry import zoo

    return Pipeline([zoo().augmentations.get(name) for name in names])
