"""The conformance kit as plugin authors use it: a plugin is testable before it is installed, with its own
losses and augmentations, and the range check catches a generator whose output is unbounded."""

from __future__ import annotations

import importlib
import math
import sys
from pathlib import Path

import pytest
from plugin_fixtures import ganzoo_fixture_relativistic as relativistic_plugin
from torch import nn

import ganzoo
from ganzoo.errors import UnknownNameError
from ganzoo.testing import ConformanceError, check_augmentation, check_model

LSGAN_SOURCE = Path(__file__).resolve().parents[1] / "examples" / "ganzoo-lsgan" / "src"


class NoTanhGenerator(ganzoo.Generator):
    """Small untrained outputs that happen to lie in [-1, 1], from a linear layer with nothing to bound it."""

    def __init__(self, image_shape, hp):
        super().__init__(hp.latent_dim, image_shape)
        self.net = nn.Linear(hp.latent_dim, math.prod(image_shape))
        nn.init.normal_(self.net.weight, 0.0, 0.02)
        nn.init.zeros_(self.net.bias)

    def forward(self, z):
        return self.net(z).view(z.shape[0], *self.image_shape)


def test_the_kit_catches_a_generator_without_tanh():
    spec = ganzoo.ModelSpec(
        name="no-tanh", summary="", paper="", build_generator=NoTanhGenerator,
        build_discriminator=relativistic_plugin.RaDiscriminator, defaults=ganzoo.Hyperparameters(latent_dim=8),
    )
    G, _ = spec.build()
    assert G.sample(8).abs().max() < 1.0  # the plain samples alone would pass
    with pytest.raises(ConformanceError, match=r"generator range: G\(z \* 10+\) spans .* tanh"):
        check_model(spec)


def test_a_plugin_with_its_own_relativistic_loss_passes_the_kit_before_it_is_installed():
    spec = relativistic_plugin.SPEC
    assert spec.defaults.loss not in ganzoo.zoo().losses  # not installed: the process registry lacks it
    with pytest.raises(UnknownNameError, match="unknown loss 'test-relativistic-average-hinge'"):
        check_model(spec)
    check_model(spec, plugin=relativistic_plugin)
    assert spec.defaults.loss not in ganzoo.zoo().losses  # the kit registered it in a registry of its own


def test_the_kit_checks_the_plugins_augmentations():
    class Detached(ganzoo.Augmentation):
        name = "test-detached"

        def __call__(self, images):
            return images.detach().flip(3)

    class Plugin:
        @staticmethod
        @ganzoo.hookimpl
        def register_augmentations(register):
            register(Detached())

    with pytest.raises(ConformanceError, match="test-detached.*not differentiable"):
        check_model(relativistic_plugin.SPEC, plugin=type("Both", (Plugin,), {
            "register_losses": staticmethod(relativistic_plugin.register_losses),
        }))


def test_a_broken_plugin_is_a_conformance_error():
    class Misspelt:
        @staticmethod
        @ganzoo.hookimpl
        def register_loss(register):
            pass

    with pytest.raises(ConformanceError, match="Misspelt.*register_losses"):
        check_model(relativistic_plugin.SPEC, plugin=Misspelt)


def test_an_installed_plugin_can_be_passed_too():
    module = importlib.import_module("ganzoo_plugins.sngan")
    check_model(ganzoo.get_model("sngan"), [(1, 28, 28)], plugin=module)


def test_the_example_lsgan_package_passes_the_kit_before_it_is_installed(monkeypatch):
    monkeypatch.syspath_prepend(str(LSGAN_SOURCE))
    monkeypatch.delitem(sys.modules, "ganzoo_lsgan", raising=False)
    import ganzoo_lsgan

    check_model(ganzoo_lsgan.SPEC, plugin=ganzoo_lsgan)


@pytest.mark.parametrize("name", ["color", "translation", "cutout"])
def test_the_builtin_augmentations_pass_the_augmentation_check(name):
    check_augmentation(ganzoo.zoo().augmentations.get(name))
