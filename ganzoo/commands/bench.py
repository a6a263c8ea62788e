"""`ganzoo bench`: the FID benchmark of registered models, side by side."""

from __future__ import annotations

import re
from pathlib import Path

import click

from ganzoo.console import print_table, text_console
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
def bench(models, all_models, dataset, steps, time_budget, seeds, eval_every, n_eval, features, out, overrides,
          augment, train_subset, device, quick) -> None:
    """Train models under one budget and compare FID/KID against the test split and the real-data floor.

    \b
    ganzoo bench --model wgan --quick
    ganzoo bench --all --time-budget 4m --seeds 3
    ganzoo bench --model lsgan --model dcgan
    ganzoo bench --model dcgan --train-subset 1000 --augment color,translation,cutout
    """
    from ganzoo.augment import parse_augment
    from ganzoo.bench import TABLE_COLUMNS, BenchConfig, run_benchmark, table_rows

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
                  overrides=list(overrides), augment=parse_augment(augment), **given)
    config = BenchConfig.quick(**common) if quick else BenchConfig(**common)
    results = run_benchmark(config, console=text_console)  # plain text: paths are not markup
    print_table(
        f"FID against {results['reference_split']} ({results['n_fake']} samples, {results['feature_extractor']['name']})",
        TABLE_COLUMNS,
        table_rows(results),
    )
    text_console.print(f"Results: {out / 'results.json'}, {out / 'results.md'}, plot {out / 'fid_vs_time.png'}")
