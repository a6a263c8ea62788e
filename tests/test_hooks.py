"""The hook contract: every hook in ganzoo.hookspecs has a test here and is documented in docs/plugins.md
with its arguments; plugins contribute models, losses, datasets and feature extractors through the hooks;
a plugin that breaks the contract is reported with a useful error and the others keep working."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
import torch
from plugin_fixtures import ganzoo_fixture_tiny, write_distribution
from torch import nn

import ganzoo
from ganzoo import hookspecs, registry
from ganzoo.errors import UsageError
from ganzoo.registry import TRACE_ENV, Zoo, hook_names
from ganzoo.testing import check_model, small_hyperparameters

DOCS = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"
HOOKS = hook_names()
TINY = ganzoo_fixture_tiny.SPEC


def load(*plugins: object) -> Zoo:
    """A registry of the installed plugins plus ``plugins``, separate from the process-wide one."""
    return Zoo(extra_plugins=plugins).load()


def plugin(name: str, **hooks) -> type:
    """A plugin class called ``name`` whose hook implementations are the given functions."""
    return type(name, (), {hook: staticmethod(ganzoo.hookimpl(function)) for hook, function in hooks.items()})


@pytest.fixture
def use_zoo(fresh_zoo, monkeypatch):
    """Make a test registry the process-wide one (what ganzoo.get_model, load_dataset and the kit read)."""

    def use(zoo: Zoo) -> Zoo:
        monkeypatch.setattr(registry, "_zoo", zoo)
        return zoo

    return use


# -- every hook is tested and documented ------------------------------------------------------------------


def test_the_hook_names_are_the_plugin_managers():
    hook = load().plugin_manager.hook
    specified = sorted(name for name in vars(hook) if getattr(getattr(hook, name), "spec", None))
    assert HOOKS == specified and HOOKS


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_test(hook):
    assert callable(globals().get(f"test_hook_{hook}")), f"add test_hook_{hook} to {__file__}"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_documented_with_its_arguments(hook):
    arguments = ", ".join(inspect.signature(getattr(hookspecs, hook)).parameters)
    assert f"`{hook}({arguments})`" in DOCS.read_text(), f"docs/plugins.md lacks a section for {hook}({arguments})"


def test_the_docs_list_every_hyperparameter_with_its_default():
    import ast
    import dataclasses

    documented = dict(re.findall(r"^\| `(\w+)` \| `([^`]+)` \|", DOCS.read_text(), re.MULTILINE))
    for field in dataclasses.fields(ganzoo.Hyperparameters):
        assert field.name in documented, f"docs/plugins.md's Hyperparameters table lacks {field.name}"
        assert ast.literal_eval(documented[field.name]) == field.default, field.name


def docs_code_blocks(heading: str, language: str) -> list[str]:
    section = DOCS.read_text().split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{language}\n(.*?)```", section, re.DOTALL)


def test_the_minimal_plugin_in_the_docs_works(tmp_path, fresh_zoo, monkeypatch):
    source = docs_code_blocks("A minimal plugin", "python")[0]
    pyproject = docs_code_blocks("A minimal plugin", "toml")[0]
    assert len(source.splitlines()) < 40
    # The two lines of pyproject.toml that matter here (tomllib is not in Python 3.10).
    distribution = re.search(r'^name = "(.+)"$', pyproject, re.MULTILINE)[1]
    plugin_name, module = re.search(r'^\[project\.entry-points\.ganzoo\]\n(\S+) = "(.+)"$', pyproject, re.MULTILINE).groups()
    site = write_distribution(tmp_path, distribution, {plugin_name: module}, {module: source})
    monkeypatch.syspath_prepend(str(site))
    zoo = registry.zoo()
    assert zoo.plugins[plugin_name].status == "ok" and zoo.plugins[plugin_name].distribution == distribution
    (model,) = zoo.plugins[plugin_name].registered["models"]
    check_model(zoo.models.get(model))
    # The guide's test file passes as written.
    namespace: dict = {}
    exec(docs_code_blocks("Testing a plugin: the conformance kit", "python")[0], namespace)
    tests = [function for name, function in namespace.items() if name.startswith("test_")]
    assert len(tests) == 2
    for test in tests:
        test()


# -- each hook contributes what it registers ----------------------------------------------------------------


def test_hook_register_models(use_zoo):
    zoo = use_zoo(load(plugin("TinyModels", register_models=lambda register: register(TINY))))
    assert ganzoo.get_model("tiny") is TINY and zoo.models.plugin_of("tinygan") == "TinyModels"
    info = zoo.plugins["TinyModels"]
    assert (info.status, info.hooks, info.registered) == ("ok", ["register_models"], {"models": ["tinygan"]})
    check_model(TINY)


class SoftHingeLoss(ganzoo.Loss):
    name = "test-soft-hinge"
    summary = "softplus instead of relu in the hinge loss"

    def discriminator_loss(self, real_scores, fake_scores):
        return nn.functional.softplus(1 - real_scores).mean() + nn.functional.softplus(1 + fake_scores).mean()

    def generator_loss(self, fake_scores):
        return -fake_scores.mean()


class RealScorePenalty(ganzoo.Penalty):
    name = "test-real-score"
    summary = "the mean squared score on real images"

    def __call__(self, discriminator, real, fake):
        return discriminator(real).square().mean()


def test_hook_register_losses(use_zoo):
    def register_losses(register):
        register(SoftHingeLoss())
        register(RealScorePenalty())

    zoo = use_zoo(load(plugin("LossPlugin", register_losses=register_losses)))
    assert isinstance(zoo.losses.get("test-soft-hinge"), SoftHingeLoss)
    assert isinstance(zoo.penalties.get("test-real-score"), RealScorePenalty)
    assert zoo.plugins["LossPlugin"].registered == {"losses": ["test-soft-hinge", "test-real-score"]}
    # A model trains with them: the kit's optimisation step looks both up by name in the registry.
    hp = small_hyperparameters(TINY).replace(loss="test-soft-hinge", penalty="test-real-score", penalty_weight=1.0)
    check_model(TINY, hyperparameters=hp)


class InvertAugmentation(ganzoo.Augmentation):
    name = "test-invert"
    summary = "negate the images (a deterministic stand-in for a random transform)"

    def __call__(self, images):
        return -images


def test_hook_register_augmentations(use_zoo):
    from ganzoo.augment import build_pipeline
    from ganzoo.testing import check_augmentation

    zoo = use_zoo(load(plugin("AugmentPlugin", register_augmentations=lambda register: register(InvertAugmentation()))))
    assert isinstance(zoo.augmentations.get("test-invert"), InvertAugmentation)
    assert zoo.plugins["AugmentPlugin"].registered == {"augmentations": ["test-invert"]}
    check_augmentation(zoo.augmentations.get("test-invert"))
    # --augment names it beside a built-in; the pipeline applies them in the order given.
    pipeline = build_pipeline(["test-invert", "cutout"])
    assert pipeline.names == ["test-invert", "cutout"]
    images = torch.rand(3, 1, 28, 28) + 0.1
    out = pipeline(images)
    assert ((out == 0) | (out == -images)).all() and (out == 0).any()


class StripesSource(ganzoo.DatasetSource):
    name = "test-stripes"
    summary = "horizontal stripes, 8 images"
    license = "CC0"
    splits = ("train",)
    aliases = ("stripes",)
    loads = 0

    def load(self, split, options):
        type(self).loads += 1
        images = torch.zeros(8, 1, 28, 28, dtype=torch.uint8)
        images[:, :, ::2] = 255
        return ganzoo.ImageDataset(name=self.name, split=split, images=images, labels=None, license=self.license)

    def availability(self, options):
        return ganzoo.Availability("embedded")


def test_hook_register_datasets(use_zoo):
    StripesSource.loads = 0
    zoo = use_zoo(load(plugin("DatasetPlugin", register_datasets=lambda register: register(StripesSource()))))
    assert zoo.plugins["DatasetPlugin"].registered == {"datasets": ["test-stripes"]}
    assert StripesSource.loads == 0  # registering reads no data
    data = ganzoo.load_dataset("stripes:train")
    assert (data.qualified_name, data.image_shape, len(data)) == ("test-stripes:train", (1, 28, 28), 8)
    assert StripesSource.loads == 1
    with pytest.raises(UsageError, match="no split 'test'"):
        ganzoo.load_dataset("test-stripes:test")


class MeanPixel(nn.Module):
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return images.float().mean(dim=(2, 3))


def test_hook_register_feature_extractors(use_zoo):
    builds = []

    def build() -> nn.Module:
        builds.append(1)
        return MeanPixel()

    spec = ganzoo.FeatureExtractorSpec(name="test-mean-pixel", summary="the mean of each channel", build=build)
    zoo = use_zoo(load(plugin("FeaturePlugin", register_feature_extractors=lambda register: register(spec))))
    assert zoo.feature_extractors.get("test-mean-pixel") is spec
    assert zoo.plugins["FeaturePlugin"].registered == {"feature_extractors": ["test-mean-pixel"]}
    assert builds == []  # built only when a metric needs it
    features = zoo.feature_extractors.get("test-mean-pixel").build()(torch.full((3, 1, 28, 28), 51, dtype=torch.uint8))
    assert features.shape == (3, 1) and torch.equal(features, torch.full((3, 1), 51.0))


# -- contract violations --------------------------------------------------------------------------------------


@pytest.mark.parametrize("hook", HOOKS)
def test_registering_the_wrong_type_breaks_only_that_plugin(hook):
    zoo = load(plugin("WrongType", **{hook: lambda register: register("dcgan")}))
    info = zoo.plugins["WrongType"]
    assert info.status == "broken" and hook in info.error and "got str 'dcgan'" in info.error
    assert {"dcgan", "vanilla", "wgan-gp"} <= set(zoo.models.names())


def test_a_hook_may_take_fewer_arguments_than_its_spec():
    zoo = load(plugin("NoArguments", register_models=lambda: None))
    assert zoo.plugins["NoArguments"].status == "ok" and zoo.plugins["NoArguments"].hooks == ["register_models"]


def test_a_hook_argument_the_spec_lacks():
    zoo = load(plugin("ExtraArgument", register_models=lambda register, device: None))
    assert "invalid hook implementation" in zoo.plugins["ExtraArgument"].error
    assert "device" in zoo.plugins["ExtraArgument"].error


def test_a_hook_that_returns_instead_of_registering():
    zoo = load(plugin("Returns", register_models=lambda register: [TINY]))
    assert "returned list" in zoo.plugins["Returns"].error and "register(item)" in zoo.plugins["Returns"].error
    assert "tinygan" not in zoo.models


def test_a_hook_function_without_the_marker():
    class Undecorated:
        @staticmethod
        def register_models(register):
            register(TINY)

    error = load(Undecorated).plugins["Undecorated"].error
    assert "register_models is not decorated with @ganzoo.hookimpl" in error


def test_a_misspelt_hook_and_a_plugin_without_hooks():
    zoo = load(plugin("Misspelt", register_dataset=lambda register: None), type("NoHooks", (), {}))
    assert "Did you mean 'register_datasets'?" in zoo.plugins["Misspelt"].error
    assert "implements no ganzoo hook" in zoo.plugins["NoHooks"].error
    # A rejected plugin leaves the plugin manager valid for the others.
    zoo.plugin_manager.check_pending()


def test_the_first_plugin_to_register_a_name_keeps_it():
    first = plugin("First", register_models=lambda register: register(TINY))
    second = plugin("Second", register_models=lambda register: register(TINY))
    zoo = load(first, second)
    assert zoo.models.plugin_of("tinygan") == "First"
    assert "'tinygan' is registered by both plugin 'First' and plugin 'Second'" in zoo.plugins["Second"].error


def test_an_alias_that_is_another_models_name():
    import dataclasses

    spec = dataclasses.replace(TINY, name="aliased", aliases=("dcgan",))
    zoo = load(plugin("AliasClash", register_models=lambda register: register(spec)))
    assert "'dcgan' is registered by both plugin 'dcgan' and plugin 'AliasClash'" in zoo.plugins["AliasClash"].error
    assert zoo.models.get("dcgan").name == "dcgan"


def test_a_plugin_registering_one_name_twice():
    def register_models(register):
        register(TINY)
        register(TINY)

    assert "registers the model name 'tinygan' twice" in load(plugin("Twice", register_models=register_models)).plugins[
        "Twice"
    ].error


def test_everything_a_broken_plugin_registered_is_withdrawn():
    def register_models(register):
        register(TINY)
        raise ValueError("a bug after the first registration")

    zoo = load(plugin("HalfDone", register_losses=lambda register: register(SoftHingeLoss()),
                      register_models=register_models))
    info = zoo.plugins["HalfDone"]
    assert "ValueError: a bug after the first registration" in info.error and "test_hooks.py:" in info.error
    assert "test-soft-hinge" not in zoo.losses and "tinygan" not in zoo.models
    assert info.registered == {} and info.unavailable == ["test-soft-hinge", "tinygan"]
    with pytest.raises(UsageError, match="Plugin 'HalfDone', which may provide it, is unavailable: .*ValueError"):
        zoo.models.get("tinygan")


def test_trace_reports_a_broken_hook_call(monkeypatch, capsys):
    monkeypatch.setenv(TRACE_ENV, "1")

    def register_models(register):
        raise RuntimeError("traced failure")

    load(plugin("Traced", register_models=register_models))
    lines = [line for line in capsys.readouterr().err.splitlines() if "plugin Traced " in line]
    assert len(lines) == 1
    assert re.match(r"\[ganzoo trace\] register_models -> plugin Traced \(\S+\): \d+\.\d+ ms, 0 registered, "
                    r"error: register_models failed: RuntimeError: traced failure", lines[0])
