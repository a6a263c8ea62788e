"""The CLI starts without what it does not need: `--help` and `--version` without torch, the listing commands
without the metrics stack (torchmetrics pulls in scipy; matplotlib draws the benchmark's plot).

Each case runs the command in a fresh interpreter and reads the modules it imported; no timing is asserted
(benchmarks/startup.py measures the times).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import ganzoo
import ganzoo.cli
import ganzoo.commands

# Runs the CLI as the `ganzoo` console script does and writes the imported modules' names to a file at exit
# (atexit runs after click's sys.exit too).
PROBE = """
import atexit, json, os, sys
atexit.register(lambda: open(os.environ["GANZOO_TEST_MODULES"], "w").write(json.dumps(sorted(sys.modules))))
sys.argv[0] = "ganzoo"
from ganzoo.cli import main
main()
"""

METRICS_STACK = {"torchmetrics", "scipy", "matplotlib"}


def imported_packages(
    tmp_path: Path, *args: str, code: str = PROBE
) -> tuple[set[str], subprocess.CompletedProcess]:
    """The top-level packages a fresh interpreter imported while running ``code`` with ``args``."""
    record = tmp_path / "modules.json"
    result = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "GANZOO_TEST_MODULES": str(record)},
    )
    modules = json.loads(record.read_text()) if record.exists() else []
    return {name.split(".")[0] for name in modules}, result


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["-h"]])
def test_help_and_version_import_neither_torch_nor_the_metrics_stack(tmp_path, args):
    packages, result = imported_packages(tmp_path, *args)
    assert result.returncode == 0, result.stderr
    assert packages, "the probe recorded no modules"
    assert "ganzoo" in packages and "click" in packages
    assert not packages & {"torch", *METRICS_STACK}, sorted(packages & {"torch", *METRICS_STACK})
    if args == ["--version"]:
        assert ganzoo.__version__ in result.stdout
    else:
        assert all(name in result.stdout for name in ganzoo.cli.COMMANDS)


def test_python_m_ganzoo_help_imports_no_torch_by_importtime(tmp_path):
    """`python -X importtime -m ganzoo --help`, the check the issue names, lists no torch."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "ganzoo", "--help"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    imported = [
        line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")
    ]
    assert "ganzoo.cli" in imported
    top_level = {name.split(".")[0] for name in imported}
    assert not top_level & {"torch", *METRICS_STACK}


@pytest.mark.parametrize(
    "args", [["list"], ["list", "--json"], ["info", "dcgan"], ["plugins"], ["datasets", "--no-download"]]
)
def test_listing_commands_import_no_metrics_stack(tmp_path, args):
    packages, result = imported_packages(tmp_path, *args)
    assert result.returncode == 0, result.stderr
    assert "torch" in packages  # the plugins are loaded: the command did its work
    assert not packages & METRICS_STACK, sorted(packages & METRICS_STACK)


def test_a_command_s_help_imports_only_its_own_module(tmp_path):
    packages, result = imported_packages(tmp_path, "list", "--help")
    assert result.returncode == 0 and "--json" in result.stdout
    assert not packages & METRICS_STACK


def test_version_and_hookimpl_need_no_torch(tmp_path):
    code = (
        "import atexit, json, os, sys\n"
        "atexit.register(lambda: open(os.environ['GANZOO_TEST_MODULES'], 'w').write(json.dumps(sorted(sys.modules))))\n"
        "import ganzoo\n"
        "from ganzoo import hookimpl\n"
        "assert ganzoo.__version__ and callable(hookimpl) and ganzoo.hookimpl is hookimpl\n"
    )
    packages, result = imported_packages(tmp_path, code=code)
    assert result.returncode == 0, result.stderr
    assert "pluggy" in packages and "torch" not in packages


def test_every_public_name_resolves_and_the_type_checking_imports_agree():
    tree = ast.parse(Path(ganzoo.__file__).read_text())
    type_checking = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for statement in node.body:
                for alias in statement.names:
                    type_checking[alias.asname or alias.name] = statement.module
    lazy = ganzoo._LAZY
    assert type_checking == lazy
    assert set(ganzoo.__all__) == {*lazy, "__version__", "get_model"}
    for name in ganzoo.__all__:
        value = getattr(ganzoo, name)
        if name in lazy:
            assert value is getattr(importlib.import_module(lazy[name]), name)
    assert set(ganzoo.__all__) <= set(dir(ganzoo))
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        ganzoo.nonexistent  # noqa: B018


def _commands_defined_in_ganzoo_commands() -> dict[str, tuple[str, str]]:
    found = {}
    for module_info in pkgutil.iter_modules(ganzoo.commands.__path__):
        module = importlib.import_module(f"ganzoo.commands.{module_info.name}")
        for attribute, value in vars(module).items():
            # A command the module defines, not one it imported from another.
            if (
                isinstance(value, click.Command)
                and getattr(value.callback, "__module__", None) == module.__name__
            ):
                found[value.name] = (module.__name__, attribute)
    return found


def test_the_lazy_table_names_every_command_where_it_lives_with_its_own_short_help():
    defined = _commands_defined_in_ganzoo_commands()
    table = ganzoo.cli.COMMANDS
    assert {name: (entry.module, entry.attribute) for name, entry in table.items()} == defined
    for name, entry in table.items():
        command = getattr(importlib.import_module(entry.module), entry.attribute)
        assert command.name == name
        assert entry.short_help == command.get_short_help_str(limit=10_000), (
            f"update the short help of {name!r} in ganzoo.cli.COMMANDS to the first sentence of its docstring"
        )
        assert inspect.getdoc(command.callback).startswith(entry.short_help.rstrip("."))


def test_help_reads_the_same_before_and_after_the_commands_are_imported():
    group = ganzoo.cli.GanzooGroup(
        "ganzoo", lazy_commands=ganzoo.cli.COMMANDS, help=ganzoo.cli.cli.help, params=ganzoo.cli.cli.params
    )
    before = CliRunner().invoke(group, ["--help"], terminal_width=80)
    assert before.exit_code == 0 and not group.commands  # nothing was imported to write it
    for name in group.list_commands(click.Context(group)):
        group.get_command(click.Context(group), name)
    assert set(group.commands) == set(ganzoo.cli.COMMANDS)
    after = CliRunner().invoke(group, ["--help"], terminal_width=80)
    assert before.output == after.output
    assert "train" in before.output and "Train a model" in before.output


def test_an_unknown_command_is_a_usage_error_without_traceback():
    result = CliRunner().invoke(ganzoo.cli.cli, ["trian"])
    assert result.exit_code == 2
    assert "No such command 'trian'" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("name", sorted(ganzoo.cli.COMMANDS))
def test_every_command_answers_help(name):
    result = CliRunner().invoke(ganzoo.cli.cli, [name, "--help"], prog_name="ganzoo")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Usage: ganzoo {name}")


def test_importing_a_command_restores_the_garbage_collector():
    import gc

    group = ganzoo.cli.GanzooGroup("ganzoo", lazy_commands=ganzoo.cli.COMMANDS)
    assert gc.isenabled()
    assert group.get_command(click.Context(group), "list").name == "list"
    assert gc.isenabled()
    gc.disable()
    try:
        group.get_command(click.Context(group), "plugins")
        assert not gc.isenabled()  # a caller that had switched it off keeps it off
    finally:
        gc.enable()


def test_the_startup_benchmark_times_every_command_and_prints_ratios(monkeypatch, capsys):
    from benchmarks import startup

    real = startup.commands()
    assert set(real) == {
        "python -c pass",
        startup.BASELINE,
        "ganzoo --help",
        "ganzoo --version",
        "ganzoo list",
    }
    assert real["ganzoo list"][-1] == "list" and real[startup.BASELINE][-1] == "import torch"
    # The plumbing with cheap stand-ins for the slow ones (a test asserts no timing anyway).
    quick = {**real, startup.BASELINE: real["python -c pass"], "ganzoo list": [*real["ganzoo --version"]]}
    monkeypatch.setattr(startup, "commands", lambda: quick)
    assert startup.main(["--rounds", "1", "--warmup", "0", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["seconds"]) == set(real) and report["ratio_to_import_torch"][startup.BASELINE] == 1.0
    assert report["bytecode"] == "bytecode cached"
    assert startup.main(["--rounds", "1", "--as-is"]) == 0
    table = capsys.readouterr().out
    assert "| `ganzoo --help` |" in table and "target <= 1.1x" in table and "environment as is" in table


def test_the_startup_benchmark_reports_a_failing_command(monkeypatch):
    from benchmarks import startup

    monkeypatch.setattr(
        startup, "commands", lambda: {"broken": [sys.executable, "-c", "raise SystemExit(3)"]}
    )
    with pytest.raises(SystemExit, match="failed \\(3\\)"):
        startup.measure(rounds=1, warmup=0)
