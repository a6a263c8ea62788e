"""Plugins found through entry points, as a user installs them: packages outside the repository, each a
folder with its modules and a ``.dist-info`` (METADATA, entry_points.txt) put on PYTHONPATH, and the
``ganzoo`` command run in a fresh process so that this process's registry is not touched."""

from __future__ import annotations

import importlib.util
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from plugin_fixtures import install_fixture, run_ganzoo, write_distribution

import ganzoo
from ganzoo import registry
from ganzoo.cli import cli
from ganzoo.registry import DISABLE_ENV, LOAD_ENV, TRACE_ENV
from ganzoo.testing import check_model

BUILTIN_MODELS = {"dcgan", "vanilla", "wgan-gp", "sngan", "ragan", "cgan-pd", "acgan"}
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "ganzoo-lsgan"


def model_names(result) -> set[str]:
    assert result.returncode == 0, result.stderr
    return {row["name"] for row in json.loads(result.stdout)}


def plugins_by_name(result) -> dict[str, dict]:
    assert result.returncode == 0, result.stderr
    return {entry["name"]: entry for entry in json.loads(result.stdout)}


def table_row(output: str, first_cell: str) -> str:
    """The line of a rich table whose first cell is ``first_cell``."""
    rows = [line for line in output.splitlines() if re.match(rf"^\W*{re.escape(first_cell)}\s", line)]
    assert rows, f"no row for {first_cell!r} in:\n{output}"
    return rows[0]


def test_a_package_outside_the_repository_appears_in_list(tmp_path):
    site = install_fixture(tmp_path, "tiny", "ganzoo_fixture_tiny")
    result = run_ganzoo("list", path=[site])
    assert result.returncode == 0, result.stderr
    row = table_row(result.stdout, "tinygan")
    assert "ganzoo-fixture-tiny 0.1.0" in row and " tiny " in row  # its package and its alias
    for builtin in BUILTIN_MODELS:
        table_row(result.stdout, builtin)
    assert "[ganzoo trace]" not in result.stderr  # tracing is off unless asked for


def test_a_plugin_that_fails_to_import_is_reported_and_list_still_works(tmp_path):
    site = install_fixture(tmp_path, "needs-missing", "ganzoo_fixture_broken_import")
    plugins = run_ganzoo("plugins", path=[site])
    assert plugins.returncode == 0, plugins.stderr
    row = table_row(plugins.stdout, "needs-missing")
    assert "BROKEN" in row and "failed to import ganzoo_fixture_broken_import" in plugins.stdout
    assert "ganzoo_fixture_missing_dependency" in plugins.stdout

    listed = run_ganzoo("list", "--json", path=[site])
    assert model_names(listed) == BUILTIN_MODELS
    assert "'needs-missing' is unavailable" in listed.stderr and "Traceback" not in listed.stderr


@pytest.fixture(scope="module")
def broken_site(tmp_path_factory) -> list[Path]:
    """A working plugin next to plugins that each break the contract in one way."""
    root = tmp_path_factory.mktemp("broken-site")
    fixtures = {
        "tiny": "ganzoo_fixture_tiny",
        "tiny-copy": "ganzoo_fixture_copy",
        "raises": "ganzoo_fixture_raises",
        "malformed": "ganzoo_fixture_malformed",
        "clash": "ganzoo_fixture_clash",
        "misspelt": "ganzoo_fixture_misspelt",
    }
    return [install_fixture(root, plugin, module) for plugin, module in fixtures.items()]


@pytest.fixture(scope="module")
def broken_plugins(broken_site) -> dict[str, dict]:
    return plugins_by_name(run_ganzoo("plugins", "--json", path=broken_site))


def test_broken_plugins_leave_the_others_working(broken_site, broken_plugins):
    assert model_names(run_ganzoo("list", "--json", path=broken_site)) == BUILTIN_MODELS | {"tinygan"}
    statuses = {name: entry["status"] for name, entry in broken_plugins.items()}
    assert statuses["tiny"] == "ok" and statuses["dcgan"] == "ok"
    assert {name for name, status in statuses.items() if status == "broken"} == {
        "tiny-copy", "raises", "malformed", "clash", "misspelt"
    }


def test_an_exception_inside_a_hook(broken_site, broken_plugins):
    error = broken_plugins["raises"]["error"]
    assert "RuntimeError: the fixture's hook failed on purpose" in error
    assert "ganzoo_fixture_raises.py:" in error  # where the plugin's author should look
    # What it registered before raising is withdrawn, and asking for it says why.
    assert broken_plugins["raises"]["unavailable"] == ["halfgan"]
    result = run_ganzoo("info", "halfgan", path=broken_site)
    assert result.returncode == 2
    assert "unknown model 'halfgan'" in result.stderr and "Plugin 'raises'" in result.stderr
    assert "on purpose" in result.stderr and "Traceback" not in result.stderr


def test_a_malformed_spec(broken_plugins):
    error = broken_plugins["malformed"]["error"]
    assert "malformed model spec 'badgan'" in error and "image_shapes" in error and "'28x28'" in error


def test_two_plugins_claiming_one_name(broken_plugins):
    copy_error = broken_plugins["tiny-copy"]["error"]
    assert "'tinygan'" in copy_error and "'tiny'" in copy_error and "'tiny-copy'" in copy_error
    assert broken_plugins["tiny"]["registered"] == {"models": ["tinygan"]}
    # A third-party plugin cannot take a built-in's name; its other model is withdrawn with it.
    clash_error = broken_plugins["clash"]["error"]
    assert "'dcgan'" in clash_error and "plugin 'clash'" in clash_error and f"{DISABLE_ENV}=clash" in clash_error
    assert broken_plugins["dcgan"]["registered"] == {"models": ["dcgan"]}
    assert broken_plugins["clash"]["unavailable"] == ["clashfree", "dcgan"]


def test_a_misspelt_hook(broken_plugins):
    error = broken_plugins["misspelt"]["error"]
    assert "'register_model'" in error and "Did you mean 'register_models'?" in error
    assert broken_plugins["misspelt"]["hooks"] == []


def test_a_disabled_plugin_is_never_imported(tmp_path):
    site = install_fixture(tmp_path, "marker", "ganzoo_fixture_marker")
    marker = tmp_path / "imported.txt"
    env = {"GANZOO_FIXTURE_MARKER": str(marker)}

    disabled = plugins_by_name(run_ganzoo("plugins", "--json", path=[site], env={**env, DISABLE_ENV: "marker"}))
    assert disabled["marker"]["status"] == "skipped" and DISABLE_ENV in disabled["marker"]["skipped"]
    assert not marker.exists()

    enabled = plugins_by_name(run_ganzoo("plugins", "--json", path=[site], env=env))
    assert enabled["marker"]["status"] == "ok"
    assert marker.exists()  # the fixture does write its marker when it is imported


def test_the_allow_list_takes_distribution_names_and_imports_nothing_else(tmp_path):
    sites = [install_fixture(tmp_path, "tiny", "ganzoo_fixture_tiny"),
             install_fixture(tmp_path, "marker", "ganzoo_fixture_marker")]
    marker = tmp_path / "imported.txt"
    env = {LOAD_ENV: "ganzoo-fixture-tiny", "GANZOO_FIXTURE_MARKER": str(marker)}
    assert model_names(run_ganzoo("list", "--json", path=sites, env=env)) == {"tinygan"}
    assert not marker.exists()


def test_an_empty_allow_list_shows_no_models_and_says_why():
    result = run_ganzoo("list", env={LOAD_ENV: ""})
    assert result.returncode == 0
    assert not any(name in result.stdout for name in BUILTIN_MODELS)
    assert "no models are registered" in result.stderr and f"{LOAD_ENV} is set and empty" in result.stderr


def test_trace_prints_each_hook_call_with_its_plugin_and_duration(tmp_path):
    site = install_fixture(tmp_path, "tiny", "ganzoo_fixture_tiny")
    result = run_ganzoo("plugins", "--json", path=[site], env={TRACE_ENV: "1"})
    plugins = plugins_by_name(result)
    calls = re.findall(r"^\[ganzoo trace\] (\w+) -> plugin (\S+) \((\S+)\): \d+\.\d+ ms, (\d+) registered$",
                       result.stderr, re.MULTILINE)
    expected = {(hook, name, entry["module"]) for name, entry in plugins.items() for hook in entry["hooks"]}
    assert {call[:3] for call in calls} == expected
    assert ("register_models", "tiny", "ganzoo_fixture_tiny", "1") in calls
    imports = re.findall(r"^\[ganzoo trace\] import (\S+) \((\S+)\): \d+\.\d+ ms$", result.stderr, re.MULTILINE)
    assert {name for name, _ in imports} == set(plugins)


@pytest.fixture
def lsgan_site(tmp_path) -> list[Path]:
    """The example package on the path with its entry point, as `pip install` would leave it."""
    dist = write_distribution(tmp_path / "lsgan", "ganzoo-lsgan", {"lsgan": "ganzoo_lsgan"})
    return [dist, EXAMPLE / "src"]


def test_the_example_package_appears_in_list(lsgan_site):
    result = run_ganzoo("list", path=lsgan_site)
    assert result.returncode == 0, result.stderr
    row = table_row(result.stdout, "lsgan")
    assert "ganzoo-lsgan 0.1.0" in row and "least-squares" in row


@pytest.fixture
def lsgan_in_this_process(lsgan_site, fresh_zoo, monkeypatch):
    """The example installed for this test only: the process-wide registry is reloaded before and after."""
    for path in reversed(lsgan_site):
        monkeypatch.syspath_prepend(str(path))
    return ganzoo.zoo()


def test_the_example_passes_the_conformance_kit(lsgan_in_this_process):
    assert lsgan_in_this_process.plugins["lsgan"].distribution == "ganzoo-lsgan"
    check_model(ganzoo.get_model("lsgan"))


@pytest.mark.skipif(importlib.util.find_spec("ganzoo.engine") is None, reason="the training engine is not here")
def test_the_example_trains_a_few_steps_and_samples(lsgan_in_this_process, tmp_path, monkeypatch):
    run = ganzoo.train(
        model="lsgan", dataset="mnist-10k", steps=3, out=str(tmp_path / "run"),
        batch_size=8, log_every=1, sample_every=0, checkpoint_every=0, grid_size=4,
    )
    assert run.step == 3 and run.config["versions"]["plugins"]["lsgan"] == "0.1.0"
    assert all(math.isfinite(line["d_loss"]) and math.isfinite(line["g_loss"]) for line in run.metrics())

    monkeypatch.setattr(registry, "reset", lambda: None)  # `ganzoo sample` must see the example too
    output = tmp_path / "samples.npz"
    result = CliRunner().invoke(cli, ["sample", str(run.directory), "--n", "5", "--format", "npz", "-o", str(output)])
    assert result.exit_code == 0, result.output
    with np.load(output) as samples:
        assert samples["images"].shape == (5, 1, 28, 28) and str(samples["model"]) == "lsgan"
