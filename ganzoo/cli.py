"""The ``ganzoo`` command line: a click group assembled from ganzoo.commands.

Errors a user can cause end with a one-line ``Error:`` message and no traceback: exit 2 for usage errors,
1 for other failures.
"""

from __future__ import annotations

import sys

import click

import ganzoo
from ganzoo.commands import bench, conditional, datasets, metrics, registry, training
from ganzoo.errors import GanzooError


class GanzooGroup(click.Group):
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


@click.group(cls=GanzooGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(ganzoo.__version__, prog_name="ganzoo")
def cli() -> None:
    """ganzoo: train, sample from and fairly compare GAN variants provided by plugins."""


for module in (registry, datasets, training, metrics, bench, conditional):
    for command in module.COMMANDS:
        cli.add_command(command)


def main() -> None:
    cli.main(prog_name="ganzoo")
