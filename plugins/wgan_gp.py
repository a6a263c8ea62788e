"""WGAN-GP: Gulrajani et al. 2017, "Improved Training of Wasserstein GANs", arXiv:1704.00028.

The Wasserstein critic loss with a gradient penalty of weight lambda = 10 on random interpolates of real
and fake images, 5 critic steps per generator step, and Adam with betas (0.5, 0.9) as in the paper's MNIST
code. The critic has no batch norm (the penalty is per-sample); the generator keeps it.

Two defaults depart from the paper, for training budgets of minutes on a CPU; both were measured
(benchmarks/RESULTS.md, section 7): base width 32 instead of 64, and learning rate 5e-4 instead of 1e-4.
On a 2-core CPU, with 5e-4 the FID of mnist-10k digits falls below the blurred-digits reference after
15-20 s of training instead of 45-60 s, and `ganzoo bench` ends at 4.3 instead of 17.5 after its 240 s.
For the paper's setting: ``--set generator_lr=1e-4 --set discriminator_lr=1e-4 --set generator_width=64
--set discriminator_width=64``.
"""

from __future__ import annotations

import torch
from torch import nn

import ganzoo

SHAPES = ((1, 28, 28), (1, 32, 32), (1, 64, 64), (3, 28, 28), (3, 32, 32), (3, 64, 64))


def doublings(size: int) -> int:
    """Stride-2 stages between the 7x7 (28x28 images) or 4x4 (others) base and the image."""
    return {28: 2, 32: 3, 64: 4}[size]


class WGANGenerator(ganzoo.Generator):
    def __init__(self, image_shape, hp: ganzoo.Hyperparameters):
        super().__init__(hp.latent_dim, image_shape)
        channels, size, _ = image_shape
        stages = doublings(size)
        self.base = size // 2**stages
        self.width = hp.generator_width * 2 ** (stages - 1)
        self.project = nn.Sequential(
            nn.Linear(hp.latent_dim, self.width * self.base**2),
            nn.BatchNorm1d(self.width * self.base**2),
            nn.ReLU(True),
        )
        layers: list[nn.Module] = []
        width = self.width
        for _ in range(stages - 1):
            layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1), nn.BatchNorm2d(width // 2), nn.ReLU(True)]
            width //= 2
        layers += [nn.ConvTranspose2d(width, channels, 4, 2, 1), nn.Tanh()]
        self.upsample = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.upsample(self.project(z).view(z.shape[0], self.width, self.base, self.base))


class WGANCritic(ganzoo.Discriminator):
    def __init__(self, image_shape, hp: ganzoo.Hyperparameters):
        super().__init__(image_shape)
        channels, size, _ = image_shape
        stages = doublings(size)
        width = hp.discriminator_width
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        for _ in range(stages - 1):
            layers += [nn.Conv2d(width, width * 2, 4, 2, 1), nn.LeakyReLU(0.2, True)]
            width *= 2
        self.features = nn.Sequential(*layers)
        self.score = nn.Linear(width * (size // 2**stages) ** 2, 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.score(self.features(images).flatten(1)).squeeze(1)


SPEC = ganzoo.ModelSpec(
    name="wgan-gp",
    aliases=("wgan",),
    summary="Wasserstein critic with gradient penalty (lambda 10, 5 critic steps)",
    paper="Gulrajani et al. 2017, Improved Training of Wasserstein GANs, arXiv:1704.00028",
    image_shapes=SHAPES,
    defaults=ganzoo.Hyperparameters(
        latent_dim=128,
        # The paper's MNIST networks have 64 base channels; 32 halves the time per step on a CPU and learns
        # about as well per step over a few minutes (benchmarks/RESULTS.md, section 7).
        generator_width=32,
        discriminator_width=32,
        # The paper's 1e-4 learns 3-4x slower per step at this budget; 5e-4 is still stable over 2,400+ steps.
        generator_lr=5e-4,
        discriminator_lr=5e-4,
        generator_betas=(0.5, 0.9),
        discriminator_betas=(0.5, 0.9),
        critic_steps=5,
        batch_size=64,
        loss="wasserstein",
        penalty="gradient-penalty",
        penalty_weight=10.0,
    ),
    build_generator=WGANGenerator,
    build_discriminator=WGANCritic,
)


@ganzoo.hookimpl
def register_models(register):
    register(SPEC)
