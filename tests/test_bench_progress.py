"""`ganzoo bench`'s progress: a live display on a terminal, plain lines in a log, nothing when turned off."""

from __future__ import annotations

import io
from types import SimpleNamespace

from rich.console import Console

from ganzoo.bench import BenchConfig, run_benchmark
from ganzoo.bench_progress import BenchProgress, duration

TINY = ["generator_width=8", "discriminator_width=8", "batch_size=16"]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def follow_two_runs(display: BenchProgress, clock: Clock) -> None:
    """Two runs of a 100-second budget: halfway through the first, an evaluation."""
    display.phase("real-data floor")
    display.start_run("dcgan", 0)
    callback = display.callback()
    trainer = SimpleNamespace(step=0, train_seconds=0.0)
    for second in range(1, 101):
        clock.now += 1.5  # evaluation and callbacks take time beside training
        trainer.step, trainer.train_seconds = 80 * second, float(second)
        callback.on_step(trainer, trainer.step)
        if second == 50:
            callback.on_evaluation_start(trainer, trainer.step, "FID of 300 samples")
            callback.on_evaluation(trainer, trainer.step, {"fid": 12.345})
    display.end_run()
    display.start_run("wgan-gp", 0)


def test_a_terminal_gets_a_live_display_with_model_seed_budget_rate_fid_and_eta():
    console = Console(file=io.StringIO(), force_terminal=True, width=80)
    clock = Clock()
    with BenchProgress(2, budget=100.0, console=console, clock=clock) as display:
        follow_two_runs(display, clock)
        text = render(display)
    assert "run 2/2" in text and "ETA 2:30" in text  # 150 s for the first of two runs: 150 s to go
    assert "wgan-gp seed 0" in text and "0:00/1:40" in text and "FID -" in text
    assert all(len(line) <= 80 for line in text.splitlines())


def test_the_live_display_shows_the_evaluation_phase_and_the_last_fid():
    console = Console(file=io.StringIO(), force_terminal=True, width=80)
    clock = Clock()
    with BenchProgress(1, budget=100.0, console=console, clock=clock) as display:
        display.start_run("dcgan", 3)
        trainer = SimpleNamespace(step=400, train_seconds=5.0)
        display.evaluating(trainer, "FID of 300 samples")
        during = render(display)
        display.evaluated(trainer, {"fid": 7.5})
        after = render(display)
    assert "dcgan seed 3" in during and "evaluating FID of 300 samples at step 400" in during
    assert "80 steps/s" in during and "0:05/1:40" in during
    assert "FID 7.50" in after and "training" in after


def render(display: BenchProgress) -> str:
    """The live display as the terminal shows it now."""
    console = display.console
    lines = console.render_lines(display.progress.get_renderable(), console.options, pad=False)
    return "\n".join("".join(segment.text for segment in line) for line in lines)


def test_a_log_gets_plain_lines_at_intervals_and_at_each_evaluation():
    output = io.StringIO()
    console = Console(file=output, width=200)
    clock = Clock()
    with BenchProgress(2, budget=100.0, console=console, clock=clock, plain_every=30.0) as display:
        follow_two_runs(display, clock)
    lines = output.getvalue().splitlines()
    assert "\x1b" not in output.getvalue()
    assert lines[0] == "bench: real-data floor"
    periodic = [line for line in lines if line.startswith("bench run 1/2 dcgan seed 0:")]
    assert 4 <= len(periodic) <= 6  # 150 s of wall time, one line per 30 s
    assert "steps/s" in periodic[-1] and "ETA" in periodic[-1]
    assert "bench dcgan seed 0: evaluating FID of 300 samples at step 4000 ..." in lines
    assert "bench dcgan seed 0: FID 12.35 at step 4000" in lines


def test_turned_off_it_prints_nothing():
    output = io.StringIO()
    clock = Clock()
    with BenchProgress(2, budget=100.0, console=Console(file=output), clock=clock, enabled=False) as display:
        follow_two_runs(display, clock)
    assert output.getvalue() == ""


def test_a_bench_reports_its_evaluations_as_plain_lines_when_piped(tmp_path, capsys):
    config = BenchConfig(models=["vanilla"], steps=4, eval_every=2, n_eval=200, out=tmp_path, overrides=TINY)
    run_benchmark(config)
    err = capsys.readouterr().err
    assert "bench: real-data floor" in err
    assert "bench vanilla seed 0: evaluating FID of 200 samples at step 2 ..." in err
    assert "bench vanilla seed 0: evaluating FID and KID of 200 samples at step 4 ..." in err


def test_duration():
    assert duration(90) == "1:30" and duration(4000) == "1:06:40" and duration(-1) == "0:00"


def test_messages_are_printed_above_the_live_display():
    console = Console(file=io.StringIO(), force_terminal=True, width=80)
    printed = []
    with BenchProgress(1, budget=10.0, console=console, clock=Clock()) as display:
        say = display.routed(printed.append)
        say("before the display")
        display.start_run("dcgan", 0)
        say("Training [dcgan] ...")  # through the live console, as plain text
    assert printed == ["before the display"]
    assert "Training [dcgan] ..." in console.file.getvalue()
