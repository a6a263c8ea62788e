"""LSGAN for ganzoo: Mao, Li, Xie, Lau, Wang & Smolley 2017, "Least Squares Generative Adversarial
Networks", ICCV 2017, arXiv:1611.04076.

The discriminator has no sigmoid and is trained with least squares towards 1 on real and 0 on fake
images; the generator pushes fake scores towards 1 (the paper's 0-1 coding, a = 0, b = c = 1). ganzoo
already registers that objective as the loss "least-squares", so this plugin only brings the networks:
DCGAN-style, a fully connected layer to a 7x7 or 4x4 feature map followed by stride-2 transposed
convolutions with batch norm and ReLU in G, and 5x5 stride-2 convolutions with LeakyReLU(0.2) and batch
norm followed by a linear score in D, as in the paper's architectures. Adam with lr 2e-4 and beta1 0.5 as
in DCGAN; the widths are reduced so that a run trains in minutes on a laptop CPU.

It uses only ganzoo's public API (``import ganzoo``), like any third-party plugin.
"""

from __future__ import annotations

import ganzoo
import torch
from torch import nn

__version__ = "0.1.0"

# Image sizes map to (base feature-map side, stride-2 stages): 7 -> 14 -> 28, 4 -> 8 -> 16 -> 32, ...
STAGES = {28: (7, 2), 32: (4, 3), 64: (4, 4)}
SHAPES = ((1, 28, 28), (1, 32, 32), (3, 32, 32), (1, 64, 64), (3, 64, 64))


def init_weights(module: nn.Module) -> None:
    """N(0, 0.02) weights and zero biases, N(1, 0.02) batch-norm scales (the DCGAN initialisation)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class LSGANGenerator(ganzoo.Generator):
    """z -> linear -> (width * 2**(stages-1), base, base) -> stride-2 transposed convolutions -> tanh."""

    def __init__(self, image_shape: ganzoo.ImageShape, hp: ganzoo.Hyperparameters) -> None:
        super().__init__(hp.latent_dim, image_shape)
        channels, size, _ = image_shape
        base, stages = STAGES[size]
        width = hp.generator_width * 2 ** (stages - 1)
        self.base_shape = (width, base, base)
        self.project = nn.Sequential(
            nn.Linear(hp.latent_dim, width * base * base, bias=False),
            nn.BatchNorm1d(width * base * base),
            nn.ReLU(True),
        )
        layers: list[nn.Module] = []
        for _ in range(stages - 1):
            layers += [
                nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(width // 2),
                nn.ReLU(True),
            ]
            width //= 2
        layers += [nn.ConvTranspose2d(width, channels, 4, 2, 1), nn.Tanh()]
        self.upsample = nn.Sequential(*layers)
        self.apply(init_weights)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.upsample(self.project(z).view(z.shape[0], *self.base_shape))


class LSGANDiscriminator(ganzoo.Discriminator):
    """Stride-2 5x5 convolutions down to the base side, then one linear score per image (no sigmoid)."""

    def __init__(self, image_shape: ganzoo.ImageShape, hp: ganzoo.Hyperparameters) -> None:
        super().__init__(image_shape)
        channels, size, _ = image_shape
        base, stages = STAGES[size]
        width = hp.discriminator_width
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 5, 2, 2), nn.LeakyReLU(0.2, True)]
        for _ in range(stages - 1):
            layers += [
                nn.Conv2d(width, width * 2, 5, 2, 2, bias=False),
                nn.BatchNorm2d(width * 2),
                nn.LeakyReLU(0.2, True),
            ]
            width *= 2
        self.features = nn.Sequential(*layers)
        self.score = nn.Linear(width * base * base, 1)
        self.apply(init_weights)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.score(self.features(images).flatten(1)).flatten()


SPEC = ganzoo.ModelSpec(
    name="lsgan",
    summary="least-squares loss on an unsquashed discriminator, DCGAN-style networks",
    paper="Mao et al. 2017, Least Squares Generative Adversarial Networks, arXiv:1611.04076",
    image_shapes=SHAPES,
    defaults=ganzoo.Hyperparameters(
        latent_dim=100,
        generator_width=32,  # 64 channels at 7x7 for 28x28 images; half of DCGAN's default, for CPUs
        discriminator_width=32,
        generator_lr=2e-4,
        discriminator_lr=2e-4,
        generator_betas=(0.5, 0.999),
        discriminator_betas=(0.5, 0.999),
        critic_steps=1,
        batch_size=64,
        loss="least-squares",
    ),
    build_generator=LSGANGenerator,
    build_discriminator=LSGANDiscriminator,
)


@ganzoo.hookimpl
def register_models(register):
    register(SPEC)
