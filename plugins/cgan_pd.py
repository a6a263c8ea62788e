"""cGAN with a projection discriminator: Miyato & Koyama 2018, "cGANs with Projection Discriminator",
arXiv:1802.05637, on a DCGAN-sized pair of networks.

Generator: DCGAN's transposed convolutions, each batch norm made class-conditional (de Vries et al. 2017:
a normalisation without affine parameters, then a per-class scale and shift looked up from the label), and
the label also given as a one-hot vector beside z: with conditional batch norm alone, whose per-class scales
start equal and move by about the learning rate per step, 1,000 steps on MNIST showed no class structure.
Discriminator: DCGAN's strided convolutions with LeakyReLU(0.2) and batch norm give a feature vector phi(x)
(the last feature map, flattened); the score is ``linear(phi(x)) + <embed(y), phi(x)>``, the projection of
the features on the class embedding. The paper's discriminators use spectral norm; on this small network it
let the hinge loss saturate within 500 steps on MNIST (D's gradient zero, G drawing a fixed texture), so D
keeps DCGAN's batch norm. Hinge loss, Adam lr 2e-4, betas (0.5, 0.999), one critic step. Works at 28x28,
32x32 and 64x64 with 1 or 3 channels.
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


class ConditionalBatchNorm(nn.Module):
    """Batch norm whose scale and shift are chosen by the class label (initialised to 1 and 0)."""

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(channels, affine=False)
        self.scale = nn.Embedding(num_classes, channels)
        self.shift = nn.Embedding(num_classes, channels)
        nn.init.ones_(self.scale.weight)
        nn.init.zeros_(self.shift.weight)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        scale = self.scale(labels)[:, :, None, None]
        shift = self.shift(labels)[:, :, None, None]
        return self.norm(x) * scale + shift


class ProjectionGenerator(ganzoo.Generator):
    def __init__(self, image_shape, hp: ganzoo.Hyperparameters):
        super().__init__(hp.latent_dim, image_shape, hp.num_classes)
        channels, size, _ = image_shape
        stages = doublings(size)
        self.base = size // 2**stages
        width = hp.generator_width * 2 ** (stages - 1)
        self.project = nn.Linear(hp.latent_dim + hp.num_classes, width * self.base * self.base, bias=False)
        self.norms = nn.ModuleList([ConditionalBatchNorm(width, hp.num_classes)])
        self.ups = nn.ModuleList()
        for _ in range(stages - 1):
            self.ups.append(nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False))
            self.norms.append(ConditionalBatchNorm(width // 2, hp.num_classes))
            width //= 2
        self.to_image = nn.ConvTranspose2d(width, channels, 4, 2, 1)
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.ConvTranspose2d)):
                nn.init.normal_(module.weight, 0.0, 0.02)

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        one_hot = F.one_hot(labels, self.num_classes).to(z.dtype)
        x = self.project(torch.cat([z, one_hot], dim=1)).view(z.shape[0], -1, self.base, self.base)
        x = torch.relu(self.norms[0](x, labels))
        for up, norm in zip(self.ups, self.norms[1:]):
            x = torch.relu(norm(up(x), labels))
        return torch.tanh(self.to_image(x))


class ProjectionDiscriminator(ganzoo.Discriminator):
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
        self.linear = nn.Linear(features, 1)
        self.embed = nn.Embedding(hp.num_classes, features)
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, 0.0, 0.02)

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        phi = self.features(images)
        return self.linear(phi).flatten() + (self.embed(labels) * phi).sum(dim=1)


SPEC = ganzoo.ModelSpec(
    name="cgan-pd",
    summary="class-conditional DCGAN: conditional batch norm in G, projection discriminator, hinge loss",
    paper="Miyato & Koyama 2018, cGANs with Projection Discriminator, arXiv:1802.05637",
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
        loss="hinge",
    ),
    build_generator=ProjectionGenerator,
    build_discriminator=ProjectionDiscriminator,
    aliases=("cgan-projection",),
    conditional=True,
)


@ganzoo.hookimpl
def register_models(register):
    register(SPEC)
