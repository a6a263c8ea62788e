"""`ganzoo list`, `ganzoo info` and `ganzoo plugins`: the same data as the registry, in tables and JSON,
and errors a user can cause that end in one line instead of a traceback."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from plugin_fixtures import SWITCHES

import ganzoo
from ganzoo import registry
from ganzoo.cli import cli
from ganzoo.commands.registry import count_parameters
from ganzoo.registry import DISABLE_ENV, LOAD_ENV, Zoo

BUILTIN_MODELS = {"dcgan", "vanilla", "wgan-gp", "sngan", "ragan", "cgan-pd", "acgan"}


@pytest.fixture
def run(fresh_zoo, monkeypatch):
    """Invoke the CLI in this process with a registry loaded afresh from the environment of the test."""
    for switch in SWITCHES:
        monkeypatch.delenv(switch, raising=False)
    monkeypatch.setenv("COLUMNS", "250")  # so that rich does not wrap table rows

    def invoke(*args: str):
        registry.reset()
        return CliRunner().invoke(cli, list(args), prog_name="ganzoo")

    return invoke


def test_list_json_is_the_registry(run):
    result = run("list", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    zoo = ganzoo.zoo()
    assert [row["name"] for row in rows] == zoo.models.names()
    for row in rows:
        assert row["plugin"] == zoo.models.plugin_of(row["name"])
        assert row["aliases"] == list(zoo.models.get(row["name"]).aliases)
    assert {row["distribution"] for row in rows if row["name"] in BUILTIN_MODELS} == {"ganzoo"}


def table_rows(output: str) -> dict[str, list[str]]:
    """The cells of each row of a table as piped output prints it (Markdown), by the row's first cell."""
    lines = [line for line in output.splitlines() if line.startswith("| ")][1:]  # below the header
    rows = [[cell.strip() for cell in line.split("|")[1:-1]] for line in lines]
    return {cells[0]: cells for cells in rows}


def test_list_shows_each_model_with_its_aliases_plugin_and_package(run):
    result = run("list")
    assert result.exit_code == 0
    rows = table_rows(result.stdout)
    zoo = ganzoo.zoo()
    for name, spec in zoo.models:
        plugin = zoo.plugins[zoo.models.plugin_of(name)]
        assert rows[name][1:4] == [", ".join(spec.aliases), plugin.name, f"{plugin.distribution} {plugin.version}"]
    assert rows["wgan-gp"][1] == "wgan"


@pytest.mark.parametrize("name", ["dcgan", "wgan"])
def test_info_prints_defaults_and_parameter_counts(run, name):
    spec = ganzoo.get_model(name)
    G, D = spec.build()
    result = run("info", name, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["name"] == spec.name and data["plugin"] == ganzoo.zoo().models.plugin_of(spec.name)
    assert data["generator_parameters"] == count_parameters(G)
    assert data["discriminator_parameters"] == count_parameters(D)
    assert data["defaults"]["loss"] == spec.defaults.loss
    human = run("info", name)
    assert f"G {count_parameters(G):,}, D {count_parameters(D):,}" in human.stdout
    assert "critic_steps" in human.stdout and spec.paper in human.stdout


def test_info_of_an_unknown_model_exits_2_listing_the_models(run):
    result = run("info", "nosuchgan")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: unknown model 'nosuchgan'.")
    assert all(name in result.stderr for name in ganzoo.zoo().models.names())
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("shape", "message"), [("1x99x99", "supports 1x28x28"), ("28x28", "expects CxHxW"), ("ax1x1", "expects CxHxW")]
)
def test_info_rejects_an_unsupported_or_malformed_image_shape(run, shape, message):
    result = run("info", "dcgan", "--image-shape", shape)
    assert result.exit_code == 2 and message in result.stderr and "Traceback" not in result.output


def test_info_names_the_plugin_whose_networks_fail_to_build(run, monkeypatch):
    import dataclasses

    from plugin_fixtures.ganzoo_fixture_tiny import SPEC

    def crash(image_shape, hp):
        raise IndexError("list index out of range")

    class CrashingModels:
        @staticmethod
        @ganzoo.hookimpl
        def register_models(register):
            register(dataclasses.replace(SPEC, name="crashgan", aliases=(), build_generator=crash))

    zoo = Zoo(extra_plugins=[CrashingModels]).load()
    monkeypatch.setattr(registry, "reset", lambda: None)  # keep this registry for the command
    monkeypatch.setattr(registry, "_zoo", zoo)
    result = run("info", "crashgan")
    assert result.exit_code == 1
    assert "model 'crashgan' from plugin 'CrashingModels'" in result.stderr and "IndexError" in result.stderr
    assert "Traceback" not in result.output


def test_disabling_a_plugin_hides_its_models(run, monkeypatch):
    monkeypatch.setenv(DISABLE_ENV, "dcgan")
    assert {row["name"] for row in json.loads(run("list", "--json").stdout)} == BUILTIN_MODELS - {"dcgan"}
    plugins = {entry["name"]: entry for entry in json.loads(run("plugins", "--json").stdout)}
    assert plugins["dcgan"]["status"] == "skipped" and DISABLE_ENV in plugins["dcgan"]["skipped"]
    assert "skipped: disabled by" in run("plugins").stdout


def test_an_allow_list_loads_only_the_named_plugins(run, monkeypatch):
    monkeypatch.setenv(LOAD_ENV, "Vanilla")  # names compare case-insensitively
    assert [row["name"] for row in json.loads(run("list", "--json").stdout)] == ["vanilla"]


def test_an_empty_allow_list_says_why_there_are_no_models(run, monkeypatch):
    monkeypatch.setenv(LOAD_ENV, "")
    result = run("list", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout) == []
    assert f"{LOAD_ENV} is set and empty" in result.stderr


def test_a_switch_naming_no_installed_plugin_warns_with_a_suggestion(run, monkeypatch):
    monkeypatch.setenv(DISABLE_ENV, "dcgn")
    result = run("list")
    assert result.exit_code == 0 and " dcgan " in result.stdout
    assert "names 'dcgn', which is no installed plugin" in result.stderr and "did you mean 'dcgan'?" in result.stderr


def test_plugins_shows_where_each_model_loss_and_dataset_comes_from(run):
    result = run("plugins", "--json")
    assert result.exit_code == 0, result.output
    plugins = {entry["name"]: entry for entry in json.loads(result.stdout)}
    zoo = ganzoo.zoo()
    kinds = {"models": zoo.models, "losses": zoo.losses, "datasets": zoo.datasets}
    for kind, items in kinds.items():
        assert len(items) > 0
        for name in items.names():
            assert name in plugins[items.plugin_of(name)]["registered"][kind]
    for name in zoo.penalties.names():
        assert name in plugins[zoo.penalties.plugin_of(name)]["registered"]["losses"]
    for name in BUILTIN_MODELS:
        entry = plugins[name]
        assert (entry["status"], entry["hooks"], entry["distribution"]) == ("ok", ["register_models"], "ganzoo")
    assert set(table_rows(run("plugins").stdout)) == set(plugins)


@pytest.mark.parametrize("command", ["list", "info", "plugins"])
def test_every_command_has_help(run, command):
    result = run(command, "--help")
    assert result.exit_code == 0 and "--json" in result.stdout
