"""A working third-party plugin: a tiny MLP GAN called "tinygan" (alias "tiny")."""

import math

from torch import nn

import ganzoo


class TinyGenerator(ganzoo.Generator):
    def __init__(self, image_shape, hp):
        super().__init__(hp.latent_dim, image_shape)
        self.net = nn.Sequential(nn.Linear(hp.latent_dim, math.prod(image_shape)), nn.Tanh())

    def forward(self, z):
        return self.net(z).view(z.shape[0], *self.image_shape)


class TinyDiscriminator(ganzoo.Discriminator):
    def __init__(self, image_shape, hp):
        super().__init__(image_shape)
        self.net = nn.Linear(math.prod(image_shape), 1)

    def forward(self, images):
        return self.net(images.flatten(1)).flatten()


SPEC = ganzoo.ModelSpec(
    name="tinygan",
    aliases=("tiny",),
    summary="a one-layer GAN from a test fixture",
    paper="none",
    build_generator=TinyGenerator,
    build_discriminator=TinyDiscriminator,
    defaults=ganzoo.Hyperparameters(latent_dim=8, batch_size=8),
)


@ganzoo.hookimpl
def register_models(register):
    register(SPEC)
