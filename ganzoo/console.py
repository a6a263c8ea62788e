"""Output helpers shared by the CLI's commands: rich tables for people, the same data as JSON for tools.

Text from a user (paths, names, file contents) is escaped before rich sees it: ``r[/x]`` is a path, not
markup (:func:`plain`, and :func:`warn` and :func:`print_table` escape what they are given)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import click
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.segment import Segment, Segments
from rich.table import Table
from rich.text import Text

console = Console(highlight=False, soft_wrap=False)
err_console = Console(stderr=True, highlight=False)


def printable(text: str) -> str:
    """``text`` with what no output stream can encode shown as an escape: a file name holding bytes that
    are not UTF-8 reaches Python as lone surrogates (``caf\\udce9``), which a UTF-8 stream refuses."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


class PlainTextConsole:
    """A console for messages that are plain text throughout (the bench's progress lines name datasets
    and folders): no markup, and every string made :func:`printable`."""

    def __init__(self, **options: Any) -> None:
        self.console = Console(highlight=False, markup=False, soft_wrap=True, **options)

    def print(self, *objects: Any, **options: Any) -> None:
        self.console.print(*(printable(o) if isinstance(o, str) else o for o in objects), **options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.console, name)


text_console = PlainTextConsole()
text_err_console = PlainTextConsole(stderr=True)


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def say(text: str) -> None:
    """A message of ganzoo's markup with :func:`plain` values; long lines are left to the terminal to wrap
    (rich would cut a path in the middle)."""
    console.print(text, soft_wrap=True)


def plain(value: Any) -> str:
    """``value`` as text that rich prints as it is (markup-like brackets escaped)."""
    return escape(printable(str(value)))


@dataclass(frozen=True)
class Column:
    """A table column: text that may wrap between words, or a value kept whole on one line."""

    header: str
    wrap: bool = True  # False: a number, a name, a value with its unit or its ± (never split)
    wide: bool = False  # shown only with --wide (--json has everything)


def print_table(
    title: str | None,
    columns: Iterable[str | Column],
    rows: Iterable[Iterable[Any]],
    *,
    wide: bool = False,
    to: Console | None = None,
) -> None:
    """A table on ``to`` (stdout): on a terminal, fitted to its width, wrapping text between words only;
    piped, plain text (a Markdown table) with one line per row and nothing wrapped. Cells are shown as
    they are (no rich markup), except :class:`rich.text.Text` cells, which keep their style."""
    out = console if to is None else to
    title = None if title is None else printable(title)
    columns = [c if isinstance(c, Column) else Column(c) for c in columns]
    shown = [index for index, column in enumerate(columns) if wide or not column.wide]
    cells = [[_cell(list(row)[index]) for index in shown] for row in rows]
    headers = [columns[index].header for index in shown]
    if not (out.is_terminal or out.is_jupyter):
        out.print("\n".join(markdown_table(title, headers, cells)), markup=False, highlight=False,
                  soft_wrap=True)
        return
    table = Table(
        title=None if title is None else Text(title), title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True
    )
    for index in shown:
        wraps = columns[index].wrap
        # Text wraps between words (a word longer than the whole column is folded, never cut off).
        table.add_column(columns[index].header, no_wrap=not wraps, overflow="fold" if wraps else "ignore")
    for row in cells:
        table.add_row(*row)
    if wide:  # every column at its natural width, even past the terminal's edge
        natural = Measurement.get(out, out.options.update(width=10_000), table).maximum
        lines = out.render_lines(table, out.options.update(width=max(out.width, natural)), pad=False)
        out.print(Segments([segment for line in lines for segment in (*line, Segment.line())]), crop=False,
                  soft_wrap=True, end="")
    else:
        out.print(table)


def markdown_table(title: str | None, headers: list[str], rows: list[list[Text]]) -> list[str]:
    """Plain lines: an aligned Markdown table, one line per row, nothing wrapped."""
    texts = [[cell.plain.replace("\n", " ").replace("|", "\\|") for cell in row] for row in rows]
    widths = [max([len(header), 3, *(len(row[i]) for row in texts)]) for i, header in enumerate(headers)]

    def line(values: list[str]) -> str:
        return "| " + " | ".join(v.ljust(w) for v, w in zip(values, widths)) + " |"

    lines = [title, ""] if title else []
    lines += [line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    return lines + [line(row) for row in texts]


def _cell(value: Any) -> Text:
    if isinstance(value, Text):
        return value
    return Text("" if value is None else printable(str(value)))


def warn(message: str) -> None:
    """A warning of plain text (escaped: it may name a user's file)."""
    err_console.print(f"[yellow]Warning:[/] {plain(message)}", soft_wrap=True)  # a path is never cut


def is_interactive() -> bool:
    """Whether a live display can be drawn: stderr is a terminal, or this is a Jupyter notebook (rich draws
    its progress bars there as notebook output)."""
    return err_console.is_terminal or err_console.is_jupyter
