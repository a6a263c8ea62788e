"""The abstract networks every GAN variant implements, so that the engine needs nothing model-specific."""

from __future__ import annotations

import abc

import torch
from torch import nn

from ganzoo.errors import UsageError

ImageShape = tuple[int, int, int]  # (channels, height, width)


def balanced_labels(n: int, num_classes: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """0, 1, ..., num_classes - 1, 0, 1, ...: ``n`` int64 labels, every class equally often (within one)."""
    return torch.arange(n, device=device) % num_classes


class Generator(nn.Module, abc.ABC):
    """Maps latent vectors ``z`` of shape (N, latent_dim) to images (N, C, H, W) in [-1, 1].

    A class-conditional generator (``num_classes`` > 0) is called as ``G(z, labels)``, labels int64 (N,).
    """

    def __init__(self, latent_dim: int, image_shape: ImageShape, num_classes: int = 0) -> None:
        super().__init__()
        self.latent_dim = int(latent_dim)
        self.image_shape: ImageShape = tuple(int(s) for s in image_shape)  # type: ignore[assignment]
        self.num_classes = int(num_classes)  # 0: unconditional

    @property
    def conditional(self) -> bool:
        return self.num_classes > 0

    @abc.abstractmethod
    def forward(self, z: torch.Tensor) -> torch.Tensor: ...

    def sample_latent(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """Standard normal latents on this network's device."""
        device = next(self.parameters()).device
        if generator is not None and generator.device != device:
            return torch.randn(n, self.latent_dim, generator=generator, device=generator.device).to(device)
        return torch.randn(n, self.latent_dim, generator=generator, device=device)

    @torch.no_grad()
    def sample(
        self, n: int, *, generator: torch.Generator | None = None, labels: torch.Tensor | int | None = None
    ) -> torch.Tensor:
        """Draw ``n`` images in [-1, 1] with latents from ``generator`` (a ``torch.Generator``), without
        autograd: the result does not require grad (``.cpu().numpy()`` works); ``ganzoo.to_uint8`` turns
        it into what FID and KID take. Training goes through ``G(G.sample_latent(n))`` instead.

        A conditional generator draws them of class ``labels`` (one int, or int64 (n,)); by default every
        class equally often (:func:`balanced_labels`).
        """
        z = self.sample_latent(n, generator=generator)
        if not self.conditional:
            if labels is not None:
                raise UsageError("this generator is not class-conditional; sample it without labels.")
            return self(z)
        return self(z, self.labels_for(n, labels))

    def labels_for(self, n: int, labels: torch.Tensor | int | None = None) -> torch.Tensor:
        """``labels`` as int64 (n,) on this network's device, checked against ``num_classes``."""
        device = next(self.parameters()).device
        if labels is None:
            return balanced_labels(n, self.num_classes, device)
        labels = torch.as_tensor(labels, dtype=torch.int64, device=device)
        if labels.ndim == 0:
            labels = labels.expand(n)
        if labels.shape != (n,):
            raise UsageError(f"labels must be one class or {n} of them, got shape {tuple(labels.shape)}.")
        if labels.numel() and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise UsageError(
                f"class labels must lie in 0..{self.num_classes - 1}; got {labels.min()}..{labels.max()}."
            )
        return labels


class Discriminator(nn.Module, abc.ABC):
    """Maps images (N, C, H, W) to one score per image, shape (N,): logits or critic values.

    A class-conditional discriminator is called as ``D(images, labels)``; one with an auxiliary classifier
    (``ModelSpec.auxiliary_classifier``) returns ``(scores, class_logits)``.
    """

    def __init__(self, image_shape: ImageShape, num_classes: int = 0) -> None:
        super().__init__()
        self.image_shape: ImageShape = tuple(int(s) for s in image_shape)  # type: ignore[assignment]
        self.num_classes = int(num_classes)  # 0: unconditional

    @abc.abstractmethod
    def forward(self, images: torch.Tensor) -> torch.Tensor: ...
