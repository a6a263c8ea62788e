"""Output helpers shared by the CLI's commands: rich tables for people, the same data as JSON for tools."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import click
from rich.console import Console
from rich.table import Table

console = Console(highlight=False, soft_wrap=False)
err_console = Console(stderr=True, highlight=False)


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def print_table(title: str | None, columns: Iterable[str], rows: Iterable[Iterable[Any]]) -> None:
    table = Table(title=title, title_justify="left", show_lines=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)


def warn(message: str) -> None:
    err_console.print(f"[yellow]Warning:[/] {message}")


def is_interactive() -> bool:
    """Whether a live display can be drawn: stderr is a terminal, or this is a Jupyter notebook (rich draws
    its progress bars there as notebook output)."""
    return err_console.is_terminal or err_console.is_jupyter
