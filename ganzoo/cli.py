"""The ``ganzoo`` command line: a click group whose commands are imported only when they run.

``ganzoo --help`` and ``--version`` import no command module (so no torch); ``ganzoo list`` imports only
the registry's. Errors a user can cause end with a one-line ``Error:`` message and no traceback: exit 2 for
usage errors, 1 for other failures.
"""

from __future__ import annotations

import gc
import importlib
import sys
from typing import NamedTuple

import click

from ganzoo import __version__
from ganzoo.errors import GanzooError


class LazyCommand(NamedTuple):
    """Where a command lives, and the one line ``ganzoo --help`` shows for it without importing it."""

    module: str
    attribute: str
    short_help: str  # the first sentence of the command's docstring; tests/test_startup.py keeps them equal


# `ganzoo fid` and `ganzoo metrics` are one command under two names.
METRICS_SHORT_HELP = "FID, KID, precision/recall, density/coverage and the classifier score of source B against source A."
COMMANDS = {
    "augment": LazyCommand(
        "ganzoo.commands.conditional", "augment", "Whether generated images help a classifier when real labels are few."
    ),
    "bench": LazyCommand(
        "ganzoo.commands.bench",
        "bench",
        "Train models under one budget and compare FID/KID against the test split and the real-data floor.",
    ),
    "cas": LazyCommand(
        "ganzoo.commands.conditional", "cas", "Classification accuracy score (CAS) of a conditional run."
    ),
    "datasets": LazyCommand(
        "ganzoo.commands.datasets",
        "datasets",
        "List every dataset: whether it is available here, where it was found, its size and license.",
    ),
    "fid": LazyCommand("ganzoo.commands.metrics", "fid", METRICS_SHORT_HELP),
    "info": LazyCommand(
        "ganzoo.commands.registry",
        "info",
        "Show a model's spec, its default hyperparameters and the parameter counts of G and D.",
    ),
    "metrics": LazyCommand("ganzoo.commands.metrics", "metrics", METRICS_SHORT_HELP),
    "list": LazyCommand(
        "ganzoo.commands.registry",
        "list_models",
        "List the registered models and the plugins that provide them.",
    ),
    "plugins": LazyCommand(
        "ganzoo.commands.registry",
        "plugins",
        "List plugins: package, version, hooks, what each registered, and why any is broken or skipped.",
    ),
    "sample": LazyCommand(
        "ganzoo.commands.training",
        "sample",
        "Draw images from a run directory's (or checkpoint's) EMA generator.",
    ),
    "train": LazyCommand(
        "ganzoo.commands.training",
        "train",
        "Train a model; writes a run directory with config, metrics, sample grids and checkpoints.",
    ),
}


def _import_at_start_up(module: str) -> object:
    """Import a command's module (and with it torch) with the cyclic garbage collector paused, then freeze
    what was imported. Importing torch makes about a million long-lived objects, and every full collection
    during start-up scans them all: without this, such collections took a fifth of `ganzoo list`. Frozen
    objects are never scanned again, which also spares the command's own later collections."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return importlib.import_module(module)
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


class GanzooGroup(click.Group):
    """The top-level group: lazily loaded commands (:data:`COMMANDS`) and one-line errors."""

    def __init__(self, *args, lazy_commands: dict[str, LazyCommand] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy_commands:
            where = self.lazy_commands[cmd_name]
            command = getattr(_import_at_start_up(where.module), where.attribute)
            self.add_command(command, cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Like click's, but a command not imported yet is described by its registered line."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            if name in self.commands:
                if self.commands[name].hidden:
                    continue
                text = self.commands[name].get_short_help_str(limit)
            else:
                text = click.utils.make_default_short_help(self.lazy_commands[name].short_help, limit)
            rows.append((name, text))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def main(self, *args, **kwargs):  # type: ignore[override]
        try:
            return super().main(*args, **{**kwargs, "standalone_mode": False})
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except (click.Abort, KeyboardInterrupt):
            click.echo("Aborted.", err=True)
            sys.exit(130)
        except GanzooError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except OSError as exc:  # a full disk, a read-only directory, a missing file
            where = f" ({exc.filename})" if exc.filename else ""
            click.echo(f"Error: {exc.strerror or exc}{where}", err=True)
            sys.exit(1)


@click.group(
    cls=GanzooGroup, lazy_commands=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.version_option(__version__, prog_name="ganzoo")
def cli() -> None:
    """ganzoo: train, sample from and fairly compare GAN variants provided by plugins."""


def main() -> None:
    cli.main(prog_name="ganzoo")
