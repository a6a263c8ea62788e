"""ACGAN: Odena, Olah & Shlens 2017, "Conditional Image Synthesis with Auxiliary Classifier GANs",
arXiv:1610.09585, on DCGAN-sized networks.

Generator: the label as a one-hot vector beside the latent (the paper's input), then DCGAN's transposed
convolutions with batch norm and ReLU, tanh output. Discriminator: DCGAN's strided convolutions with
LeakyReLU(0.2) and batch norm, and two heads on the same features: the real/fake score and class logits.
It does not see the label; the spec's ``auxiliary_classifier`` makes the engine add the logits'
cross-entropy against the labels to both losses (D classifies real and generated images, G makes images
of the class it was asked for), the paper's L_C beside the non-saturating L_S. Adam lr 2e-4, beta1 0.5.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

import ganzoo

SHAPES = ((1, 28, 28), (1, 32, 32), (1, 64, 64), (3, 28, 28), (3, 32, 32), (3, 64, 64))


def doublings(size: int) -> int:
    """Number of stride-2 stages between the 7x7 (28x28 images) or 4x4 (others) base and the image."""
    return {28: 2, 32: 3, 64: 4}[size]


def init_weights(module: nn.Module) -> None:
    """N(0, 0.02) for weights, N(1, 0.02) for batch-norm scales, zero biases (DCGAN's init)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class ACGANGenerator(ganzoo.Generator):
    def __init__(self, image_shape, hp: ganzoo.Hyperparameters):
        super().__init__(hp.latent_dim, image_shape, hp.num_classes)
        channels, size, _ = image_shape
        stages = doublings(size)
        self.base = size // 2**stages
        width = hp.generator_width * 2 ** (stages - 1)
        self.project = nn.Linear(hp.latent_dim + hp.num_classes, width * self.base * self.base, bias=False)
        layers: list[nn.Module] = [nn.BatchNorm2d(width), nn.ReLU(True)]
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

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        one_hot = F.one_hot(labels, self.num_classes).to(z.dtype)
        x = self.project(torch.cat([z, one_hot], dim=1))
        return self.net(x.view(z.shape[0], -1, self.base, self.base))


class ACGANDiscriminator(ganzoo.Discriminator):
    def __init__(self, image_shape, hp: ganzoo.Hyperparameters):
        super().__init__(image_shape, hp.num_classes)
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
        self.features = nn.Sequential(*layers, nn.Flatten())
        features = width * (size // 2**stages) ** 2
        self.score = nn.Linear(features, 1)
        self.classify = nn.Linear(features, hp.num_classes)
        self.apply(init_weights)

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(real/fake logits (N,), class logits (N, classes)); ``labels`` is unused: D has to find the class."""
        h = self.features(images)
        return self.score(h).flatten(), self.classify(h)


SPEC = ganzoo.ModelSpec(
    name="acgan",
    summary="class-conditional DCGAN whose discriminator also classifies (auxiliary classifier GAN)",
    paper="Odena et al. 2017, Conditional Image Synthesis with Auxiliary Classifier GANs, arXiv:1610.09585",
    image_shapes=SHAPES,
    defaults=ganzoo.Hyperparameters(
        latent_dim=100,
        generator_width=32,
        discriminator_width=32,
        generator_lr=2e-4,
        discriminator_lr=2e-4,
        generator_betas=(0.5, 0.999),
        discriminator_betas=(0.5, 0.999),
        batch_size=64,
        loss="non-saturating",
    ),
    build_generator=ACGANGenerator,
    build_discriminator=ACGANDiscriminator,
    conditional=True,
    auxiliary_classifier=True,
)


@ganzoo.hookimpl
def register_models(register):
    register(SPEC)
