"""Fake installed distributions for plugin tests: a folder holding plugin modules next to a
``<name>-<version>.dist-info`` with METADATA and entry_points.txt, put on PYTHONPATH like site-packages."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent
SWITCHES = ("GANZOO_LOAD_PLUGINS", "GANZOO_DISABLE_PLUGINS", "GANZOO_TRACE_PLUGINS")


def write_distribution(
    root: Path, name: str, entry_points: dict[str, str], modules: dict[str, str] | None = None
) -> Path:
    """Make ``root`` look like a site-packages folder in which distribution ``name`` is installed.

    ``entry_points`` maps plugin names to module names (the ``ganzoo`` group of entry_points.txt);
    ``modules`` maps module names to their source.
    """
    dist_info = root / f"{name.replace('-', '_')}-0.1.0.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1.0\n")
    table = "".join(f"{plugin} = {module}\n" for plugin, module in entry_points.items())
    (dist_info / "entry_points.txt").write_text(f"[ganzoo]\n{table}")
    for module, source in (modules or {}).items():
        (root / f"{module}.py").write_text(source)
    return root


def install_fixture(root: Path, plugin: str, module: str, distribution: str | None = None) -> Path:
    """Install the fixture module ``tests/plugin_fixtures/<module>.py`` as plugin ``plugin`` under ``root``."""
    source = (FIXTURES / f"{module}.py").read_text()
    return write_distribution(root / plugin, distribution or f"ganzoo-fixture-{plugin}", {plugin: module}, {module: source})


def run_ganzoo(*args: str, path: list[Path] = (), env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``python -m ganzoo ARGS`` in a fresh process with ``path`` on PYTHONPATH and no plugin switches set
    except those in ``env``; wide columns so that rich does not wrap the tables."""
    environment = {k: v for k, v in os.environ.items() if k not in SWITCHES}
    pythonpath = [str(p) for p in path] + [p for p in [os.environ.get("PYTHONPATH")] if p]
    environment.update(PYTHONPATH=os.pathsep.join(pythonpath), COLUMNS="250", **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "ganzoo", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,  # the tests assert on the exit status
    )
