"""Tables as a person reads them: at 80 columns on a terminal nothing is split inside a word or a value,
--wide shows every column, and piped output is plain text with one line per row."""

from __future__ import annotations

import io
import re

import pytest
from click.testing import CliRunner
from rich.console import Console

import ganzoo
import ganzoo.console
from ganzoo.cli import cli
from ganzoo.console import Column, print_table

LONG = "skipped: disabled by GANZOO_DISABLE_PLUGINS because the user asked for it, twice over"
ROWS = [
    ["ganzoo.feature_extractors", "170.67 ± 0.00", "ganzoo 0.1.0", LONG, "55 (170.67)"],
    ["real data (floor)", "0.71", "-", "short", "-"],
]
COLUMNS = [Column("plugin", wrap=False), Column("FID ± std", wrap=False), "package", "status",
           Column("best step (FID)", wrap=False, wide=True)]


def terminal(width: int = 80) -> Console:
    return Console(file=io.StringIO(), force_terminal=True, width=width, color_system=None)


def printed(console: Console) -> list[str]:
    return [line.rstrip() for line in console.file.getvalue().splitlines()]


def assert_readable(lines: list[str], rows) -> None:
    """Every line fits; every value, and every word of a text, is whole on one line."""
    assert all(len(line) <= 80 for line in lines), lines
    words = [cell for row in rows for cell in row[:3]]
    words += [word for row in rows for cell in row[3:] for word in cell.split()]
    for word in words:
        assert any(word in line for line in lines), (word, lines)


def test_a_terminal_table_fits_80_columns_without_splitting_words_or_values():
    console = terminal()
    print_table("title", COLUMNS, ROWS, to=console)
    lines = printed(console)
    assert_readable(lines, [row[:4] for row in ROWS])
    assert not any("best step" in line for line in lines)  # a --wide column


def test_wide_shows_every_column_at_its_natural_width():
    console = terminal()
    print_table(None, COLUMNS, ROWS, wide=True, to=console)
    lines = printed(console)
    assert any("best step (FID)" in line for line in lines)
    assert any("55 (170.67)" in line and "170.67 ± 0.00" in line for line in lines)


def test_piped_tables_are_plain_text_with_one_line_per_row():
    console = Console(file=io.StringIO(), width=80)  # not a terminal
    print_table("title", COLUMNS, ROWS, to=console)
    text = console.file.getvalue()
    assert "\x1b" not in text and not re.search("[\u2500-\u257f]", text)  # no escapes, no box drawing
    lines = text.splitlines()
    assert lines[0] == "title"
    assert lines[2].split("|")[1].strip() == "plugin"
    for row in ROWS:
        assert any(all(cell in line for cell in row[:4]) for line in lines), row


def test_cells_are_not_read_as_markup():
    console = terminal()
    print_table(None, ["a"], [["[red]x[/] [link]"]], to=console)
    assert "[red]x[/] [link]" in console.file.getvalue()


@pytest.fixture
def narrow_terminal(monkeypatch):
    console = terminal()
    monkeypatch.setattr(ganzoo.console, "console", console)
    monkeypatch.setattr("ganzoo.commands.registry.console", console)
    return console


def test_plugins_at_80_columns_keeps_the_environment_variable_whole(fresh_zoo, monkeypatch, narrow_terminal):
    monkeypatch.setenv("GANZOO_DISABLE_PLUGINS", "dcgan")
    result = CliRunner().invoke(cli, ["plugins"])
    assert result.exit_code == 0, result.output
    lines = printed(narrow_terminal)
    assert all(len(line) <= 80 for line in lines)
    assert any("GANZOO_DISABLE_PLUGINS" in line and line.startswith("dcgan") for line in lines), lines
    assert not any("register_models" in line for line in lines)  # hooks: a --wide column
    CliRunner().invoke(cli, ["plugins", "--wide"])
    assert any("register_models" in line for line in printed(narrow_terminal))


@pytest.mark.parametrize("command", [["list"], ["datasets"], ["plugins"]])
def test_registry_tables_fit_80_columns(narrow_terminal, command):
    result = CliRunner().invoke(cli, command)
    assert result.exit_code == 0, result.output
    lines = printed(narrow_terminal)
    assert lines and all(len(line) <= 80 for line in lines)
    assert not any(re.search(r"\w-$", line) for line in lines)  # no word folded at a hyphen's edge


def test_piped_list_has_one_line_per_model():
    result = CliRunner().invoke(cli, ["list"])
    assert result.exit_code == 0
    rows = [line for line in result.output.splitlines() if line.startswith("| ")][1:]
    assert [row.split("|")[1].strip() for row in rows] == [name for name, _ in ganzoo.zoo().models]
