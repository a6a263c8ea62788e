"""Output helpers shared by the CLI's commands: rich tables for people, the same data as JSON for tools.

Text from a user (paths, names, file contents) is escaped before rich sees it: ``r[/x]`` is a path, not
markup (:func:`plain`, and :func:`warn` and :func:`print_table` escape what they are given)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

console = Console(highlight=False, soft_wrap=False)
err_console = Console(stderr=True, highlight=False)
# For messages that are plain text throughout (the bench's progress lines name datasets and folders).
text_console = Console(highlight=False, markup=False, soft_wrap=True)


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def say(text: str) -> None:
    """A message of ganzoo's markup with :func:`plain` values; long lines are left to the terminal to wrap
    (rich would cut a path in the middle)."""
    console.print(text, soft_wrap=True)


def plain(value: Any) -> str:
    """``value`` as text that rich prints as it is (markup-like brackets escaped)."""
    return escape(str(value))


def print_table(title: str | None, columns: Iterable[str], rows: Iterable[Iterable[Any]]) -> None:
    table = Table(title=None if title is None else plain(title), title_justify="left", show_lines=False)
    for column in columns:
        table.add_column(plain(column), overflow="fold")
    for row in rows:
        # A rich Text is styled on purpose (a red BROKEN); anything else is data, shown as it is.
        table.add_row(*("" if v is None else v if isinstance(v, Text) else plain(v) for v in row))
    console.print(table)


def warn(message: str) -> None:
    """A warning of plain text (escaped: it may name a user's file)."""
    err_console.print(f"[yellow]Warning:[/] {plain(message)}", soft_wrap=True)  # a path is never cut


def is_interactive() -> bool:
    return sys.stderr.isatty()
