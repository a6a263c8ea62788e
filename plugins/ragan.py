"""RaGAN: Jolicoeur-Martineau 2018, "The relativistic discriminator: a key element missing from standard
GAN", arXiv:1807.00734.

The relativistic average loss (the built-in loss "relativistic-average", RaSGAN in the paper): D estimates
how much more realistic a real image is than the average fake one, and G, in its own step, how much more
realistic its fakes are than the average real image, so G's loss also depends on the real images' scores.
The networks are DCGAN's, as in the paper's 64x64 CAT experiments: transposed convolutions with batch norm
and ReLU in G, strided convolutions with LeakyReLU(0.2) and batch norm (none on the first layer) in D,
N(0, 0.02) weights; Adam with lr 2e-4 and betas (0.5, 0.999), one D step per G step, as in the paper.
At 28x28 the networks go 7 -> 14 -> 28 with base width 32, the widths of the built-in dcgan.
"""

from __future__ import annotations

import torch
from torch import nn

import ganzoo

SHAPES = ((1, 28, 28), (1, 32, 32), (1, 64, 64), (3, 28, 28), (3, 32, 32), (3, 64, 64))


def doublings(size: int) -> int:
    """Stride-2 stages between the 7x7 (28x28 images) or 4x4 (others) base and the image."""
    return {28: 2, 32: 3, 64: 4}[size]


def init_weights(module: nn.Module) -> None:
    """N(0, 0.02) weights, N(1, 0.02) batch-norm scales, zero biases (DCGAN's initialisation)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class RaGANGenerator(ganzoo.Generator):
    def __init__(self, image_shape, hp: ganzoo.Hyperparameters):
        super().__init__(hp.latent_dim, image_shape)
        channels, size, _ = image_shape
        stages = doublings(size)
        self.base = size // 2**stages
        self.width = hp.generator_width * 2 ** (stages - 1)
        self.project = nn.Linear(hp.latent_dim, self.width * self.base**2, bias=False)
        layers: list[nn.Module] = [nn.BatchNorm2d(self.width), nn.ReLU(True)]
        width = self.width
        for _ in range(stages - 1):
            layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width // 2), nn.ReLU(True)]
            width //= 2
        layers += [nn.ConvTranspose2d(width, channels, 4, 2, 1), nn.Tanh()]
        self.upsample = nn.Sequential(*layers)
        self.apply(init_weights)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.upsample(self.project(z).view(z.shape[0], self.width, self.base, self.base))


class RaGANDiscriminator(ganzoo.Discriminator):
    def __init__(self, image_shape, hp: ganzoo.Hyperparameters):
        super().__init__(image_shape)
        channels, size, _ = image_shape
        stages = doublings(size)
        width = hp.discriminator_width
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        for _ in range(stages - 1):
            layers += [nn.Conv2d(width, width * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width * 2), nn.LeakyReLU(0.2, True)]
            width *= 2
        layers.append(nn.Conv2d(width, 1, size // 2**stages, 1, 0))
        self.net = nn.Sequential(*layers)
        self.apply(init_weights)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images).flatten()


SPEC = ganzoo.ModelSpec(
    name="ragan",
    aliases=("rasgan",),
    summary="relativistic average discriminator (RaSGAN) with DCGAN networks",
    paper="Jolicoeur-Martineau 2018, The relativistic discriminator, arXiv:1807.00734",
    image_shapes=SHAPES,
    defaults=ganzoo.Hyperparameters(
        latent_dim=100,
        generator_width=32,  # dcgan's CPU widths: G 64 -> 32 channels, D 32 -> 64 at 28x28
        discriminator_width=32,
        generator_lr=2e-4,
        discriminator_lr=2e-4,
        generator_betas=(0.5, 0.999),
        discriminator_betas=(0.5, 0.999),
        critic_steps=1,
        batch_size=64,
        loss="relativistic-average",
    ),
    build_generator=RaGANGenerator,
    build_discriminator=RaGANDiscriminator,
)


@ganzoo.hookimpl
def register_models(register):
    register(SPEC)
