"""The progress bar of a training run: steps, time left, and the last logged losses and images/s."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

Advance = Callable[[int, "dict[str, Any] | None"], None]


@contextlib.contextmanager
def progress_bar(model: str, total: int, start: int, enabled: bool) -> Iterator[Advance]:
    """Yields ``advance(step, record)``; ``record`` is the metrics line just logged, or None."""
    if not enabled:
        yield lambda step, record: None
        return
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from ganzoo.console import err_console

    columns = (
        TextColumn(f"[bold]{escape(model)}[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[status]}"),
    )
    with Progress(*columns, console=err_console, transient=False) as progress:
        task = progress.add_task("train", total=total, completed=start, status="")

        def advance(step: int, record: dict[str, Any] | None) -> None:
            status = None
            if record is not None:
                status = (
                    f"D {record['d_loss']:.3f}  G {record['g_loss']:.3f}  "
                    f"{record['images_per_second']:.0f} img/s"
                )
            progress.update(task, completed=step, **({"status": status} if status else {}))

        yield advance
