"""`ganzoo cas` and `ganzoo augment`: whether a conditional model's images can train a classifier."""

from __future__ import annotations

from pathlib import Path

import click

from ganzoo.commands import SEED
from ganzoo.console import console, print_json, print_table
from ganzoo.errors import UsageError
from ganzoo.metrics.cas import DEFAULT_IMAGES

POSITIVE = click.IntRange(min=1)


@click.command("cas")
@click.argument("run", type=click.Path(path_type=Path, exists=True))
@click.option(
    "--test", "test_split", default=None, help="Held-out split to test on (default: the run's NAME:test)."
)
@click.option(
    "--n", "count", type=POSITIVE, default=DEFAULT_IMAGES, show_default=True, help="Generated images."
)
@click.option(
    "--seed", type=SEED, default=0, show_default=True, help="Seed of the samples and the classifier."
)
@click.option("--no-ceiling", is_flag=True, help="Skip the same recipe on as many real training images.")
@click.option("--intra-fid", is_flag=True, help="Also compute intra-class FID (per-class FID, averaged).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def cas(run: Path, test_split, count, seed, no_ceiling, intra_fid, as_json) -> None:
    """Classification accuracy score (CAS) of a conditional run.

    A fixed small CNN trained on N generated images with balanced labels, tested on the real test split,
    beside the same recipe on N real training images (the ceiling).

    \b
    ganzoo cas runs/cgan-pd
    ganzoo cas runs/cgan-pd --intra-fid --json
    """
    from ganzoo.metrics.conditional import evaluate_run

    result = evaluate_run(
        run, test_split=test_split, n=count, seed=seed, ceiling=not no_ceiling, intra_fid=intra_fid
    )
    if as_json:
        print_json(result)
        return
    rows = [["CAS (trained on generated)", f"{100 * result['cas']:.2f}%", result["n_generated"]]]
    if "ceiling" in result:
        rows.append(["ceiling (trained on real)", f"{100 * result['ceiling']:.2f}%", result["n_real"]])
    if "intra_fid" in result:
        rows.append(["intra-class FID", f"{result['intra_fid']:.2f}", result["n_fake_per_class"]])
    print_table(  # cells and title are shown as they are (print_table reads no markup)
        f"{result['model']}: tested on {result['test_split']} ({result['n_test']} images), seed {seed}",
        ["measure", "value", "images"],
        rows,
    )


@click.command("augment")
@click.option("--model", "-m", default="cgan-pd", show_default=True, help="A class-conditional model.")
@click.option(
    "--dataset", "-d", default="mnist-10k", show_default=True, help="Dataset NAME (train and test)."
)
@click.option(
    "--k", "real_images", type=POSITIVE, default=1000, show_default=True, help="Real labeled images."
)
@click.option(
    "--generated", type=POSITIVE, default=DEFAULT_IMAGES, show_default=True, help="Generated images added."
)
@click.option(
    "--seeds", type=POSITIVE, default=3, show_default=True, help="Independent draws of the K images."
)
@click.option("--time-budget", type=click.FloatRange(min=0, min_open=True), default=240.0, show_default=True,
              help="Seconds of GAN training per seed.")  # fmt: skip
@click.option("--steps", type=POSITIVE, default=None, help="GAN steps per seed instead of a time budget.")
@click.option(
    "--out", "-o", type=click.Path(path_type=Path), default=Path("augment-results"), show_default=True
)
def augment(model, dataset, real_images, generated, seeds, time_budget, steps, out) -> None:
    """Whether generated images help a classifier when real labels are few.

    The classifier recipe on K real labeled images alone against K real plus generated images from a
    conditional model trained on those same K images only, over several seeds.

    \b
    ganzoo augment --model cgan-pd --k 1000 --seeds 3 --out augment-results
    """
    from ganzoo.augmentation import AugmentationConfig, run_augmentation

    if (out / "augmentation.json").exists():
        raise UsageError(f"{out} already holds an augmentation experiment; choose another --out.")
    config = AugmentationConfig(
        model=model, dataset=dataset, real_images=real_images, generated_images=generated, seeds=seeds,
        time_budget=time_budget, steps=steps, out=out,
    )  # fmt: skip
    results = run_augmentation(config, say=console.print)
    console.print(
        f"Wrote {out / 'augmentation.md'}, {out / 'augmentation.json'} and {out / 'augmentation.png'}."
    )
    print_json({"summary": results["summary"], "gain": results["gain"]})

