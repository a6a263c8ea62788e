"""What ``ganzoo bench`` shows while it works: a live display in a terminal (the bench as a whole with its
ETA, and the current run: model, seed, training time against the budget, steps/s, last FID, phase), and
plain lines at intervals when the output is a log file or a pipe."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn
from rich.text import Text

from ganzoo.engine import Callback, Trainer

REFRESH_SECONDS = 0.25  # the least time between two updates of the live display from the training loop
PLAIN_EVERY_SECONDS = 30.0  # the time between two plain progress lines


def duration(seconds: float) -> str:
    """90 -> '1:30', 4000 -> '1:06:40'."""
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class BenchProgress:
    """Follows a benchmark of ``runs`` training runs, each with a budget of ``budget`` seconds of training
    (or ``steps`` generator steps). Use as a context manager; :meth:`callback` follows one run."""

    def __init__(
        self,
        runs: int,
        *,
        budget: float | None = None,
        steps: int | None = None,
        enabled: bool = True,
        console: Console | None = None,
        plain_every: float = PLAIN_EVERY_SECONDS,
        clock=time.monotonic,
    ) -> None:
        if console is None:
            from ganzoo.console import err_console as console
        self.runs, self.budget, self.steps = runs, budget, steps
        self.enabled, self.console, self.plain_every, self.clock = enabled, console, plain_every, clock
        self.live = enabled and (console.is_terminal or console.is_jupyter)
        self.runs_done = 0
        self.run_label = ""
        self.run_fraction = 0.0  # of the current run's budget
        self.run_status = ""
        self.last_fid: str = "-"
        self.run_done = ""  # "1:30/4:00" or "1200/2000 steps"
        self.steps_per_second: float | None = None
        self.started: float | None = None  # when the first run started
        self.last_update = self.last_line = -float("inf")
        self.progress: Progress | None = None

    # -- the context ----------------------------------------------------------------------------------
    def __enter__(self) -> BenchProgress:
        return self

    def _start_live(self) -> None:
        """Drawn from the first event on, so that a bench refused for bad input draws nothing."""
        if self.live and self.progress is None:
            self.progress = _Display(
                TextColumn("{task.description}"),
                BarColumn(bar_width=16),
                TextColumn("{task.fields[text]}"),
                console=self.console,
                refresh_per_second=4,
            )
            self.bench_task = self.progress.add_task("[bold]bench[/]", total=1.0, text="")
            self.run_task = self.progress.add_task("", total=1.0, text="", visible=False)
            self.progress.start()

    def __exit__(self, *exc: Any) -> None:
        if self.progress is not None:
            self._draw()
            self.progress.stop()

    # -- events ---------------------------------------------------------------------------------------
    def phase(self, text: str) -> None:
        """Work outside a training run (the real-data floor, the sample grids)."""
        self._start_live()
        self.run_status = text
        if self.progress is not None:
            self.progress.update(self.run_task, visible=bool(self.run_label))
            self._draw()
        elif self.enabled:
            self._line(f"bench: {text}")

    def start_run(self, model: str, seed: int) -> None:
        self._start_live()
        if self.started is None:
            self.started = self.clock()
        self.run_label = f"{model} seed {seed}"
        self.run_fraction, self.run_status, self.last_fid = 0.0, "training", "-"
        self.steps_per_second = None
        self.run_done = f"0/{self.steps} steps" if self.steps is not None else f"0:00/{duration(self.budget)}"
        if self.progress is not None:
            self.progress.update(self.run_task, description=escape(self.run_label), visible=True)
            self._draw()

    def end_run(self) -> None:
        self.runs_done += 1
        self.run_fraction = 0.0
        self.run_status = "writing the results" if self.runs_done >= self.runs else "starting the next run"
        if self.progress is not None:
            self._draw()

    def routed(self, say: Callable[..., None]) -> Callable[..., None]:
        """``say`` (a console's print), printed above the live display while it is drawn: rich writes
        another console's output past the display's redirection, and the display would overwrite it."""

        def print_above(*objects: Any, **options: Any) -> None:
            if self.progress is None:
                say(*objects, **options)
            else:
                self.progress.console.print(*objects, markup=False, highlight=False, soft_wrap=True)

        return print_above

    def callback(self) -> Callback:
        """The Callback that follows the current run's steps and evaluations."""
        return _FollowRun(self)

    # -- what the callback reports --------------------------------------------------------------------
    def training(self, trainer: Trainer) -> None:
        now = self.clock()
        if now - self.last_update < REFRESH_SECONDS:
            return
        self.last_update = now
        self.run_status = "training"
        self._measure(trainer)
        if self.progress is not None:
            self._draw()
        elif self.enabled and now - self.last_line >= self.plain_every:
            self._line(self._plain())

    def evaluating(self, trainer: Trainer, what: str) -> None:
        self._measure(trainer)
        self.run_status = f"evaluating {what} at step {trainer.step}"
        if self.progress is not None:
            self._draw()
        elif self.enabled:
            self._line(f"bench {self.run_label}: {self.run_status} ...")

    def evaluated(self, trainer: Trainer, results: dict[str, Any]) -> None:
        fid = results.get("fid")
        if isinstance(fid, (int, float)):
            self.last_fid = f"{fid:.2f}"
        self.run_status = "training"
        if self.progress is not None:
            self._draw()
        elif self.enabled:
            self._line(f"bench {self.run_label}: FID {self.last_fid} at step {trainer.step}")

    # -- drawing --------------------------------------------------------------------------------------
    def _measure(self, trainer: Trainer) -> None:
        if self.steps is not None:
            self.run_fraction = min(1.0, trainer.step / self.steps)
            self.run_done = f"{trainer.step}/{self.steps} steps"
        else:
            self.run_fraction = min(1.0, trainer.train_seconds / self.budget)
            self.run_done = f"{duration(trainer.train_seconds)}/{duration(self.budget)}"
        if trainer.train_seconds > 0:
            self.steps_per_second = trainer.step / trainer.train_seconds

    def _eta(self) -> str:
        done = self.runs_done + self.run_fraction
        if self.started is None or done <= 0:
            return "ETA -"
        elapsed = self.clock() - self.started
        return f"{duration(elapsed)} elapsed, ETA {duration(elapsed * (self.runs - done) / done)}"

    def _run_text(self, with_status: bool = True) -> str:
        if not self.run_label:
            return self.run_status if with_status else ""
        rate = self.steps_per_second
        parts = [
            self.run_done,
            f"{rate:.0f} steps/s" if rate else "",
            f"FID {self.last_fid}",
            self.run_status if with_status else "",
        ]
        return "  ".join(p for p in parts if p)

    def _draw(self) -> None:
        run = min(self.runs_done + 1, self.runs)
        self.progress.update(
            self.bench_task,
            completed=(self.runs_done + self.run_fraction) / self.runs,
            text=f"run {run}/{self.runs}  {self._eta()}",
        )
        self.progress.update(self.run_task, completed=self.run_fraction, text=escape(self._run_text(False)))
        self.progress.status = self.run_status

    def _plain(self) -> str:
        run = min(self.runs_done + 1, self.runs)
        return f"bench run {run}/{self.runs} {self.run_label}: {self._run_text()}; {self._eta()}"

    def _line(self, text: str) -> None:
        self.last_line = self.clock()
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)


class _Display(Progress):
    """The bars, then one line that says what the bench is doing now."""

    status = ""

    def get_renderables(self):
        yield self.make_tasks_table(self.tasks)
        yield Text(f"  {self.status}", style="dim", overflow="ellipsis", no_wrap=True)


class _FollowRun(Callback):
    def __init__(self, display: BenchProgress) -> None:
        self.display = display

    def on_step(self, trainer: Trainer, step: int) -> None:
        self.display.training(trainer)

    def on_evaluation_start(self, trainer: Trainer, step: int, what: str) -> None:
        self.display.evaluating(trainer, what)

    def on_evaluation(self, trainer: Trainer, step: int, results: dict[str, Any]) -> None:
        self.display.evaluated(trainer, results)
