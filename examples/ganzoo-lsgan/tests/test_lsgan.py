"""The plugin passes ganzoo's conformance kit and registers LSGAN through its entry point."""

from __future__ import annotations

import importlib.metadata

import ganzoo
import pytest
import torch
from ganzoo.testing import check_model

import ganzoo_lsgan


def test_conformance_at_every_supported_shape():
    check_model(ganzoo_lsgan.SPEC, plugin=ganzoo_lsgan)  # passes before pip install too


def test_uses_the_least_squares_loss_on_unsquashed_scores():
    assert ganzoo_lsgan.SPEC.defaults.loss == "least-squares"
    _, D = ganzoo_lsgan.SPEC.build((1, 28, 28))
    assert not any(isinstance(m, (torch.nn.Sigmoid, torch.nn.Tanh)) for m in D.modules())


def test_the_hook_registers_the_spec():
    registered = []
    ganzoo_lsgan.register_models(register=registered.append)
    assert registered == [ganzoo_lsgan.SPEC]


@pytest.mark.skipif(
    not importlib.metadata.entry_points(group="ganzoo", name="lsgan"),
    reason="ganzoo-lsgan is not installed (pip install ./examples/ganzoo-lsgan)",
)
def test_ganzoo_finds_the_installed_plugin():
    assert ganzoo.get_model("lsgan") is ganzoo_lsgan.SPEC
    assert ganzoo.zoo().models.plugin_of("lsgan") == "lsgan"
