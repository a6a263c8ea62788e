"""Every registered model passes the conformance kit; the built-ins have their papers' settings."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

import ganzoo
from ganzoo.testing import ConformanceError, check_model

MODEL_NAMES = ganzoo.zoo().models.names()


def test_the_builtins_are_registered():
    assert {"vanilla", "dcgan", "wgan-gp", "sngan", "ragan", "cgan-pd", "acgan"} <= set(MODEL_NAMES)
    assert ganzoo.get_model("wgan").name == "wgan-gp"


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_conformance(name):
    check_model(ganzoo.get_model(name))


def test_wgan_gp_follows_the_paper():
    hp = ganzoo.get_model("wgan").defaults
    assert (hp.critic_steps, hp.penalty, hp.penalty_weight, hp.loss) == (5, "gradient-penalty", 10.0, "wasserstein")
    _, critic = ganzoo.get_model("wgan").build()
    assert not any("BatchNorm" in type(m).__name__ for m in critic.modules())


def test_sngan_follows_the_paper():
    hp = ganzoo.get_model("sngan").defaults
    assert (hp.loss, hp.penalty, hp.critic_steps) == ("hinge", None, 1)
    assert (hp.generator_lr, hp.generator_betas) == (2e-4, (0.5, 0.999))  # the paper's setting C
    _, D = ganzoo.get_model("sngan").build()
    layers = [m for m in D.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert len(layers) == 6 and all(parametrize.is_parametrized(m, "weight") for m in layers)
    assert not any("BatchNorm" in type(m).__name__ for m in D.modules())


def test_sngan_layers_have_spectral_norm_one_after_training_passes():
    torch.manual_seed(0)
    _, D = ganzoo.get_model("sngan").build()
    D.train()
    for _ in range(30):  # each training forward pass runs one power iteration per layer
        D(torch.randn(4, 1, 28, 28))
    D.eval()
    for module in D.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            sigma = torch.linalg.matrix_norm(module.weight.detach().flatten(1), ord=2)
            assert sigma == pytest.approx(1.0, rel=0.05), module


def test_ragan_uses_the_relativistic_average_loss():
    spec = ganzoo.get_model("rasgan")
    assert spec.name == "ragan" and spec.defaults.loss == "relativistic-average"
    assert ganzoo.zoo().losses.get(spec.defaults.loss).needs_real_scores


def test_dcgan_builds_every_documented_shape():
    spec = ganzoo.get_model("dcgan")
    for shape in [(1, 28, 28), (1, 32, 32), (1, 64, 64), (3, 28, 28), (3, 32, 32), (3, 64, 64)]:
        G, _ = spec.build(shape)
        assert G.sample(2).shape == (2, *shape)


@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
def test_dcgan_first_layer_is_the_transposed_convolution_it_replaces(memory_format):
    """dcgan computes its latent projection as a matrix product (for speed); it must equal the paper's
    transposed convolution, forward and backward, and keep nn.ConvTranspose2d's state dict."""
    generator, _ = ganzoo.get_model("dcgan").build((1, 28, 28))
    projection = generator.net[0].to(memory_format=memory_format)
    reference = nn.ConvTranspose2d(100, 64, 7, 1, 0, bias=False).to(memory_format=memory_format)
    reference.load_state_dict(projection.state_dict())
    z = torch.randn(5, 100, requires_grad=True)
    ours, theirs = projection(z), reference(z.view(5, 100, 1, 1))
    assert ours.shape == theirs.shape == (5, 64, 7, 7)
    assert ours.is_contiguous(memory_format=memory_format)
    torch.testing.assert_close(ours, theirs)
    grad = torch.randn_like(theirs)
    ours_grads = torch.autograd.grad(ours, (z, projection.weight), grad)
    theirs_grads = torch.autograd.grad(theirs, (z, reference.weight), grad)
    torch.testing.assert_close(ours_grads, theirs_grads)


def test_kit_catches_a_generator_that_lies_about_its_shape():
    good = ganzoo.get_model("vanilla")

    class Liar(ganzoo.Generator):
        def __init__(self, shape, hp):
            super().__init__(hp.latent_dim, shape)
            self.inner = good.build_generator((1, 32, 32), hp)

        def forward(self, z):
            return self.inner(z)

    bad = ganzoo.ModelSpec(
        name="liar", summary="", paper="", build_generator=Liar,
        build_discriminator=good.build_discriminator,
    )
    with pytest.raises(ConformanceError, match="liar at 1x28x28"):
        check_model(bad)


def test_an_unsupported_shape_is_a_usage_error():
    with pytest.raises(ganzoo.UsageError, match="supports"):
        ganzoo.get_model("dcgan").build((1, 48, 48))
