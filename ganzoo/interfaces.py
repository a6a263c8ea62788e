"""The abstract networks every GAN variant implements, so that the engine needs nothing model-specific."""

from __future__ import annotations

import abc

import torch
from torch import nn

ImageShape = tuple[int, int, int]  # (channels, height, width)


class Generator(nn.Module, abc.ABC):
    """Maps latent vectors ``z`` of shape (N, latent_dim) to images (N, C, H, W) in [-1, 1]."""

    def __init__(self, latent_dim: int, image_shape: ImageShape) -> None:
        super().__init__()
        self.latent_dim = int(latent_dim)
        self.image_shape: ImageShape = tuple(int(s) for s in image_shape)  # type: ignore[assignment]

    @abc.abstractmethod
    def forward(self, z: torch.Tensor) -> torch.Tensor: ...

    def sample_latent(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """Standard normal latents on this network's device."""
        device = next(self.parameters()).device
        if generator is not None and generator.device != device:
            return torch.randn(n, self.latent_dim, generator=generator, device=generator.device).to(device)
        return torch.randn(n, self.latent_dim, generator=generator, device=device)

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw ``n`` images in [-1, 1] with latents from ``generator`` (a ``torch.Generator``), without
        autograd: the result does not require grad (``.cpu().numpy()`` works). Train through
        ``G(G.sample_latent(n))``; ``ganzoo.to_uint8`` turns the images into what FID and KID take."""
        return self(self.sample_latent(n, generator=generator))


class Discriminator(nn.Module, abc.ABC):
    """Maps images (N, C, H, W) to one score per image, shape (N,): logits or critic values."""

    def __init__(self, image_shape: ImageShape) -> None:
        super().__init__()
        self.image_shape: ImageShape = tuple(int(s) for s in image_shape)  # type: ignore[assignment]

    @abc.abstractmethod
    def forward(self, images: torch.Tensor) -> torch.Tensor: ...
