"""Vanilla GAN: Goodfellow et al. 2014, "Generative Adversarial Nets", arXiv:1406.2661.

Fully connected generator and discriminator, trained with the non-saturating loss the paper recommends
in practice (G maximises log D(G(z))). The paper trained with SGD and momentum, maxout units and dropout;
like most reimplementations we use Adam (2e-4, betas 0.5/0.999), LeakyReLU(0.2) and dropout in D, which
train far more reliably on a CPU budget.
"""

from __future__ import annotations

import math

import torch
from torch import nn

import ganzoo

SHAPES = ((1, 28, 28), (1, 32, 32), (1, 64, 64), (3, 28, 28), (3, 32, 32), (3, 64, 64))


class MLPGenerator(ganzoo.Generator):
    def __init__(self, image_shape, hp: ganzoo.Hyperparameters):
        super().__init__(hp.latent_dim, image_shape)
        width = hp.generator_width * 4  # hidden units of the first layer; doubles per layer
        self.net = nn.Sequential(
            nn.Linear(hp.latent_dim, width),
            nn.LeakyReLU(0.2),
            nn.Linear(width, width * 2),
            nn.LeakyReLU(0.2),
            nn.Linear(width * 2, width * 4),
            nn.LeakyReLU(0.2),
            nn.Linear(width * 4, math.prod(image_shape)),
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(z.shape[0], *self.image_shape)


class MLPDiscriminator(ganzoo.Discriminator):
    def __init__(self, image_shape, hp: ganzoo.Hyperparameters):
        super().__init__(image_shape)
        width = hp.discriminator_width * 4
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(math.prod(image_shape), width * 2),
            nn.LeakyReLU(0.2),
            nn.Dropout(0.3),
            nn.Linear(width * 2, width),
            nn.LeakyReLU(0.2),
            nn.Dropout(0.3),
            nn.Linear(width, 1),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images).squeeze(1)


SPEC = ganzoo.ModelSpec(
    name="vanilla",
    aliases=("gan",),
    summary="MLP generator and discriminator with the non-saturating loss",
    paper="Goodfellow et al. 2014, Generative Adversarial Nets, arXiv:1406.2661",
    image_shapes=SHAPES,
    defaults=ganzoo.Hyperparameters(
        latent_dim=100,
        generator_width=64,
        discriminator_width=64,
        generator_lr=2e-4,
        discriminator_lr=2e-4,
        generator_betas=(0.5, 0.999),
        discriminator_betas=(0.5, 0.999),
        batch_size=64,
        loss="non-saturating",
    ),
    build_generator=MLPGenerator,
    build_discriminator=MLPDiscriminator,
)


@ganzoo.hookimpl
def register_models(register):
    register(SPEC)
