"""SNGAN: Miyato, Kataoka, Koyama & Yoshida 2018, "Spectral Normalization for Generative Adversarial
Networks", ICLR 2018, arXiv:1802.05957.

Every layer of the discriminator has its weight divided by its largest singular value (estimated by one
power iteration per training forward pass; torch.nn.utils.parametrizations.spectral_norm), which bounds D's
Lipschitz constant without a gradient penalty's second backward pass. The hinge loss, and the paper's
"standard CNN": D alternates 3x3 stride-1 and 4x4 stride-2 convolutions with LeakyReLU(0.1) and ends in a
linear score; G is a linear layer to a base x base map, 4x4 stride-2 transposed convolutions with batch
norm and ReLU, and a 3x3 convolution with tanh. Adam with the paper's setting C (lr 2e-4, betas 0.5/0.999,
one critic step per generator step), the cheapest of its settings per generator step.

Adapted to 28x28 digits on a CPU budget: two stride-2 stages, 7 -> 14 -> 28, so D has five convolutions
instead of the paper's seven (4 -> 8 -> 16 -> 32 at 32x32 as in the paper, one more stage at 64x64), and
base width 32 instead of 64 (D: 32, 32, 64, 64, 128 channels at 28x28; G: 128 channels at 7x7 down to 32).
One iteration then costs about what wgan-gp's five critic steps cost. Width 16 halves it again; which of
the two reaches the lower FID in `ganzoo bench`'s 4 minutes has not been measured on a quiet machine yet.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

import ganzoo

SHAPES = ((1, 28, 28), (1, 32, 32), (1, 64, 64), (3, 28, 28), (3, 32, 32), (3, 64, 64))


def doublings(size: int) -> int:
    """Stride-2 stages between the 7x7 (28x28 images) or 4x4 (others) base and the image."""
    return {28: 2, 32: 3, 64: 4}[size]


class SNGANGenerator(ganzoo.Generator):
    def __init__(self, image_shape, hp: ganzoo.Hyperparameters):
        super().__init__(hp.latent_dim, image_shape)
        channels, size, _ = image_shape
        stages = doublings(size)
        self.base = size // 2**stages
        self.width = hp.generator_width * 2**stages  # 128 channels at 7x7 for 28x28 and width 32
        self.project = nn.Linear(hp.latent_dim, self.width * self.base**2)
        layers: list[nn.Module] = [nn.BatchNorm2d(self.width), nn.ReLU(True)]
        width = self.width
        for _ in range(stages):
            layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1), nn.BatchNorm2d(width // 2), nn.ReLU(True)]
            width //= 2
        layers += [nn.Conv2d(width, channels, 3, 1, 1), nn.Tanh()]
        self.upsample = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.upsample(self.project(z).view(z.shape[0], self.width, self.base, self.base))


class SNGANDiscriminator(ganzoo.Discriminator):
    def __init__(self, image_shape, hp: ganzoo.Hyperparameters):
        super().__init__(image_shape)
        channels, size, _ = image_shape
        stages = doublings(size)
        width = hp.discriminator_width
        layers: list[nn.Module] = [spectral_norm(nn.Conv2d(channels, width, 3, 1, 1)), nn.LeakyReLU(0.1, True)]
        for _ in range(stages):
            layers += [
                spectral_norm(nn.Conv2d(width, width, 4, 2, 1)),
                nn.LeakyReLU(0.1, True),
                spectral_norm(nn.Conv2d(width, width * 2, 3, 1, 1)),
                nn.LeakyReLU(0.1, True),
            ]
            width *= 2
        self.features = nn.Sequential(*layers)
        self.score = spectral_norm(nn.Linear(width * (size // 2**stages) ** 2, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.score(self.features(images).flatten(1)).squeeze(1)


SPEC = ganzoo.ModelSpec(
    name="sngan",
    summary="spectral normalisation on every discriminator layer, hinge loss, standard CNN",
    paper="Miyato et al. 2018, Spectral Normalization for Generative Adversarial Networks, arXiv:1802.05957",
    image_shapes=SHAPES,
    defaults=ganzoo.Hyperparameters(
        latent_dim=128,
        # The paper's standard CNN has 64 base channels (512 in D's last layer); 32 for a CPU budget.
        generator_width=32,
        discriminator_width=32,
        generator_lr=2e-4,
        discriminator_lr=2e-4,
        generator_betas=(0.5, 0.999),
        discriminator_betas=(0.5, 0.999),
        critic_steps=1,
        batch_size=64,
        loss="hinge",
    ),
    build_generator=SNGANGenerator,
    build_discriminator=SNGANDiscriminator,
)


@ganzoo.hookimpl
def register_models(register):
    register(SPEC)
