"""`ganzoo bench`: the FID benchmark of registered models, side by side."""

from __future__ import annotations

import re
from pathlib import Path

import click

from ganzoo.console import Column, print_json, print_table, text_console, text_err_console
from ganzoo.errors import UsageError
from ganzoo.registry import zoo

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h)?\s*$")


def parse_duration(text: str) -> float:
    """'90', '90s', '5m', '1.5h' -> seconds."""
    match = _DURATION.match(text.lower())
    if not match or float(match.group(1)) <= 0:
        raise UsageError(f"--time-budget expects a positive duration such as 300, 90s, 5m or 1h; got {text!r}.")
    scale = {None: 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600}[match.group(2)]
    return float(match.group(1)) * scale


@click.command("bench")
@click.option("--model", "-m", "models", multiple=True, help="Model to benchmark (repeat for several).")
@click.option("--all", "all_models", is_flag=True, help="Benchmark every registered model.")
@click.option("--dataset", "-d", default="mnist-10k", show_default=True, help="Dataset NAME (train/test splits).")
@click.option("--steps", type=click.IntRange(min=1), default=None, help="Budget in generator steps.")
@click.option("--time-budget", default=None, help="Budget of training time per run, e.g. 5m (default 4m).")
@click.option("--seeds", type=click.IntRange(min=1), default=None, help="Runs per model (default 1).")
@click.option("--eval-every", type=click.IntRange(min=1), default=None, help="Steps between evaluations.")
@click.option("--n-eval", type=click.IntRange(min=2), default=None, help="Samples per evaluation (10000).")
@click.option("--features", default="lenet-mnist", show_default=True, help="Feature extractor for FID/KID.")
@click.option("--out", "-o", type=click.Path(path_type=Path), default=None, help="Results directory.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override for every model.")
@click.option("--augment", default=None, metavar="NAMES",
              help="DiffAugment for every run, e.g. translation,cutout (`ganzoo plugins` lists them).")
@click.option("--train-subset", type=click.IntRange(min=1), default=None,
              help="Train on N images of the train split, drawn with each run's seed.")
@click.option("--device", default="auto", show_default=True, help="Training device.")
@click.option("--quick", is_flag=True, help="A smoke run: a few seconds per model, 2000 samples.")
@click.option("--no-progress", is_flag=True, help="No progress display (or lines, when not a terminal).")
@click.option("--wide", is_flag=True, help="Show every column of the results table.")
@click.option("--json", "as_json", is_flag=True, help="Print results.json instead of the table.")
def bench(models, all_models, dataset, steps, time_budget, seeds, eval_every, n_eval, features, out, overrides,
          augment, train_subset, device, quick, no_progress, wide, as_json) -> None:
    """Train models under one budget and compare FID/KID against the test split and the real-data floor.

    \b
    ganzoo bench --model wgan --quick
    ganzoo bench --all --time-budget 4m --seeds 3
    ganzoo bench --model lsgan --model dcgan
    ganzoo bench --model dcgan --train-subset 1000 --augment color,translation,cutout
    """
    from ganzoo.augment import parse_augment
    from ganzoo.bench import BenchConfig, run_benchmark

    if all_models and models:
        raise UsageError("--all and --model exclude each other.")
    if steps is not None and time_budget is not None:
        raise UsageError("--steps and --time-budget exclude each other: choose one budget.")
    names = zoo().models.names() if all_models else list(models)
    if not names:
        raise UsageError("name at least one --model (see `ganzoo list`), or pass --all.")
    for name in names:
        zoo().models.get(name)
    zoo().feature_extractors.get(features)
    given = {
        "steps": steps,
        "seeds": seeds,
        "eval_every": eval_every,
        "n_eval": n_eval,
        "time_budget": parse_duration(time_budget) if time_budget is not None else None,
        "train_subset": train_subset,
    }
    given = {k: v for k, v in given.items() if v is not None}
    if out is None:
        from datetime import datetime

        out = Path("bench-results") / datetime.now().strftime("%Y%m%d-%H%M%S")
    common = dict(models=names, dataset=dataset, features=features, out=out, device=device,
                  overrides=list(overrides), augment=parse_augment(augment), progress=not no_progress,
                  **given)
    config = BenchConfig.quick(**common) if quick else BenchConfig(**common)
    # Plain text (paths are not markup); with --json, on stderr so that stdout is the JSON alone.
    say = text_err_console if as_json else text_console
    results = run_benchmark(config, console=say)
    if as_json:
        print_json(results)
        return
    print_results_table(results, wide=wide)
    text_console.print(
        f"Results: {out / 'report.html'} (open it in a browser), {out / 'results.json'}, "
        f"{out / 'results.md'}, plot {out / 'fid_vs_time.png'}"
    )


def print_results_table(results: dict, *, wide: bool = False, to=None) -> None:
    """The FID table, then the other quality metrics; each fits 80 columns (--wide: every column)."""
    from ganzoo.bench_results import TABLE_COLUMNS, table_rows
    from ganzoo.metrics import summary as metric_summary

    print_table(
        f"FID against {results['reference_split']} ({results['n_fake']} samples, {results['feature_extractor']['name']})",
        [_column(name) for name in TABLE_COLUMNS],
        table_rows(results),
        wide=wide,
        to=to,
    )
    print_table(
        metric_summary.quality_title(results),
        [Column(name, wrap=name != "FID") for name in metric_summary.QUALITY_COLUMNS],
        metric_summary.quality_rows(results),
        wide=wide,
        to=to,
    )


def _column(name: str) -> Column:
    """The FID table's columns that fit in 80, with short headers; every other one (plugin, training time,
    best step, and any that a later version adds) is shown by --wide and is in results.md and results.json."""
    if name.startswith("FID"):
        return Column("FID", wrap=False)
    shown = {"model": Column("model"), "steps": Column("steps", wrap=False),
             "images/s": Column("img/s", wrap=False), "KID": Column("KID", wrap=False)}
    return shown.get(name, Column(name, wrap=False, wide=True))
