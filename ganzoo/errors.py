"""Errors a user can cause: each carries a message that says what to do, and the CLI prints it without a
traceback (exit 2 for usage errors, 1 for the rest)."""

from __future__ import annotations

import difflib


class GanzooError(Exception):
    """A failure ganzoo can explain; the CLI prints ``Error: <message>`` and exits with ``exit_code``."""

    exit_code = 1


class UsageError(GanzooError):
    """Bad input from the user: an unknown name, a value out of range, conflicting options."""

    exit_code = 2


class UnknownNameError(UsageError):
    """A model, loss, dataset or feature extractor that no plugin registered."""

    def __init__(self, kind: str, name: str, known: list[str], extra: str = "") -> None:
        self.kind, self.name, self.known = kind, name, known
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        message = f"unknown {kind} {name!r}."
        if close:
            message += f" Did you mean {' or '.join(repr(c) for c in close)}?"
        message += f" Available {_plural(kind)}: {', '.join(known) if known else '(none)'}."
        if extra:
            message += " " + extra
        super().__init__(message)


def _plural(kind: str) -> str:
    """'model' -> 'models', 'loss' -> 'losses', 'penalty' -> 'penalties'."""
    if kind.endswith("s"):
        return kind + "es"
    if kind.endswith("y"):
        return kind[:-1] + "ies"
    return kind + "s"


class PluginError(GanzooError):
    """A plugin misbehaved: failed to import, raised in a hook, or registered something malformed."""


class CheckpointError(GanzooError):
    """A checkpoint or run directory that cannot be used: missing, corrupt, foreign or too new."""


class DatasetError(GanzooError):
    """Data that cannot be found, downloaded, verified or decoded."""


def exception_line(exc: BaseException) -> str:
    """``Type: first line`` of an exception from code ganzoo calls: torch's messages span many lines (C++
    frames), and an ``Error:`` message is one line."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
