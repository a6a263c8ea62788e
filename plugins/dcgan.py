"""DCGAN: Radford, Metz & Chintala 2015, "Unsupervised Representation Learning with Deep Convolutional
Generative Adversarial Networks", arXiv:1511.06434.

Generator: transposed convolutions with batch norm and ReLU, tanh output. Discriminator: strided
convolutions with LeakyReLU(0.2) and batch norm (none on its first layer). Weights drawn from N(0, 0.02),
Adam with lr 2e-4 and beta1 0.5, as in the paper; batch 64 (the paper used 128) and narrower networks, so
that a run trains in minutes on a CPU. Works at 28x28
(7 -> 14 -> 28), 32x32 and 64x64 (4 -> ... -> size) with 1 or 3 channels.
"""

from __future__ import annotations

import torch
from torch import nn

import ganzoo

SHAPES = ((1, 28, 28), (1, 32, 32), (1, 64, 64), (3, 28, 28), (3, 32, 32), (3, 64, 64))


def doublings(size: int) -> int:
    """Number of stride-2 stages between the 7x7 (28x28 images) or 4x4 (others) base and the image."""
    return {28: 2, 32: 3, 64: 4}[size]


def init_weights(module: nn.Module) -> None:
    """N(0, 0.02) for convolutions, N(1, 0.02) for batch-norm scales, zero biases (the paper's init)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class LatentProjection(nn.ConvTranspose2d):
    """The generator's first layer, a transposed convolution of the 1x1 latent into a base x base map, computed
    as the matrix product it is: on a CPU, oneDNN's transposed convolution of this shape took 1.15 ms at
    batch 64, width 32, the matrix product 0.13 ms (benchmarks/RESULTS.md, section 5). The parameters and the
    state dict are nn.ConvTranspose2d's, and the output keeps the weight's memory format."""

    def __init__(self, latent_dim: int, width: int, base: int):
        super().__init__(latent_dim, width, base, 1, 0, bias=False)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        latent, width, base, _ = self.weight.shape
        z = z.reshape(-1, latent)
        if self.weight.is_contiguous(memory_format=torch.channels_last):
            # Laid out as [latent, base, base, width]: the output comes out channels_last with no copy.
            hwc = self.weight.permute(0, 2, 3, 1).reshape(latent, -1)
            return (z @ hwc).view(-1, base, base, width).permute(0, 3, 1, 2)
        return (z @ self.weight.reshape(latent, -1)).view(-1, width, base, base)


class DCGANGenerator(ganzoo.Generator):
    def __init__(self, image_shape, hp: ganzoo.Hyperparameters):
        super().__init__(hp.latent_dim, image_shape)
        channels, size, _ = image_shape
        stages = doublings(size)
        base = size // 2**stages
        width = hp.generator_width * 2 ** (stages - 1)
        layers: list[nn.Module] = [
            LatentProjection(hp.latent_dim, width, base),
            nn.BatchNorm2d(width),
            nn.ReLU(True),
        ]
        for _ in range(stages - 1):
            layers += [
                nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(width // 2),
                nn.ReLU(True),
            ]
            width //= 2
        layers += [nn.ConvTranspose2d(width, channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.apply(init_weights)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class DCGANDiscriminator(ganzoo.Discriminator):
    def __init__(self, image_shape, hp: ganzoo.Hyperparameters):
        super().__init__(image_shape)
        channels, size, _ = image_shape
        stages = doublings(size)
        width = hp.discriminator_width
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        for _ in range(stages - 1):
            layers += [
                nn.Conv2d(width, width * 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(width * 2),
                nn.LeakyReLU(0.2, True),
            ]
            width *= 2
        layers.append(nn.Conv2d(width, 1, size // 2**stages, 1, 0))
        self.net = nn.Sequential(*layers)
        self.apply(init_weights)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images).flatten()


SPEC = ganzoo.ModelSpec(
    name="dcgan",
    summary="transposed-conv generator and strided-conv discriminator with batch norm",
    paper="Radford et al. 2015, Unsupervised Representation Learning with DCGANs, arXiv:1511.06434",
    image_shapes=SHAPES,
    defaults=ganzoo.Hyperparameters(
        latent_dim=100,
        # The paper's G narrows 1024 -> 128 channels at 64x64; width 32 (G 64 -> 32, D 32 -> 64 channels at
        # 28x28) learns as well per step as 64 at half the time per step (benchmarks/RESULTS.md, section 7).
        generator_width=32,
        discriminator_width=32,
        generator_lr=2e-4,
        discriminator_lr=2e-4,
        generator_betas=(0.5, 0.999),
        discriminator_betas=(0.5, 0.999),
        batch_size=64,
        loss="non-saturating",
    ),
    build_generator=DCGANGenerator,
    build_discriminator=DCGANDiscriminator,
)


@ganzoo.hookimpl
def register_models(register):
    register(SPEC)
