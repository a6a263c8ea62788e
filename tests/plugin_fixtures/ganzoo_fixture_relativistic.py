"""An uninstalled third-party plugin whose model uses the plugin's own relativistic loss (RaHinge,
Jolicoeur-Martineau 2018) and which brings its own augmentation (a random horizontal flip)."""

import math

import torch
import torch.nn.functional as F
from torch import nn

import ganzoo


class RelativisticAverageHingeLoss(ganzoo.Loss):
    name = "test-relativistic-average-hinge"
    summary = "RaHinge: the hinge loss on each score minus the other side's mean score"
    needs_real_scores = True

    def discriminator_loss(self, real_scores, fake_scores):
        return F.relu(1 - (real_scores - fake_scores.mean())).mean() + F.relu(1 + (fake_scores - real_scores.mean())).mean()

    def generator_loss(self, fake_scores, real_scores):
        return F.relu(1 - (fake_scores - real_scores.mean())).mean() + F.relu(1 + (real_scores - fake_scores.mean())).mean()


class RandomFlip(ganzoo.Augmentation):
    name = "test-flip"
    summary = "mirror half of the images left to right"

    def __call__(self, images):
        flip = torch.rand(images.shape[0], 1, 1, 1, device=images.device) < 0.5
        return torch.where(flip, images.flip(3), images)


class RaGenerator(ganzoo.Generator):
    def __init__(self, image_shape, hp):
        super().__init__(hp.latent_dim, image_shape)
        self.net = nn.Sequential(nn.Linear(hp.latent_dim, math.prod(image_shape)), nn.Tanh())

    def forward(self, z):
        return self.net(z).view(z.shape[0], *self.image_shape)


class RaDiscriminator(ganzoo.Discriminator):
    def __init__(self, image_shape, hp):
        super().__init__(image_shape)
        self.net = nn.Linear(math.prod(image_shape), 1)

    def forward(self, images):
        return self.net(images.flatten(1)).flatten()


SPEC = ganzoo.ModelSpec(
    name="test-rahinge",
    summary="a one-layer GAN trained with its plugin's RaHinge loss",
    paper="Jolicoeur-Martineau 2018, arXiv:1807.00734",
    build_generator=RaGenerator,
    build_discriminator=RaDiscriminator,
    defaults=ganzoo.Hyperparameters(latent_dim=8, batch_size=8, loss="test-relativistic-average-hinge"),
)


@ganzoo.hookimpl
def register_losses(register):
    register(RelativisticAverageHingeLoss())


@ganzoo.hookimpl
def register_augmentations(register):
    register(RandomFlip())


@ganzoo.hookimpl
def register_models(register):
    register(SPEC)
