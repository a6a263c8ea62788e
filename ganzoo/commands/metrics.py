"""`ganzoo fid A B`: FID and KID between two image sources, with one feature extractor."""

from __future__ import annotations

from pathlib import Path

import click

import ganzoo
from ganzoo.commands import SEED
from ganzoo.commands.datasets import dataset_options, options_from_cli
from ganzoo.console import print_json, print_table, warn
from ganzoo.errors import UsageError
from ganzoo.metrics.fid import (
    DEFAULT_EXTRACTOR,
    DEFAULT_KID_SUBSET_SIZE,
    DEFAULT_KID_SUBSETS,
    FidEvaluator,
    FidResult,
)
from ganzoo.metrics.inception import WEIGHTS_ENV
from ganzoo.metrics.sources import load_image_source
from ganzoo.registry import zoo

POSITIVE = click.IntRange(min=1)


@click.command("fid")
@click.argument("source_a")
@click.argument("source_b")
@click.option(
    "--features",
    default=DEFAULT_EXTRACTOR,
    show_default=True,
    help="Feature extractor (see `ganzoo plugins`); scores from different extractors are not comparable.",
)
@click.option(
    "--n",
    "count",
    type=int,
    default=None,
    help="Images from each source (default: all of a dataset, .npz or folder; 10,000 from a generator).",
)
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed for subsets, latents and KID.")
@click.option(
    "--inception-weights",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=f"Local InceptionV3 weights for --features inception (or set {WEIGHTS_ENV}).",
)
@click.option(
    "--kid-subsets",
    type=click.IntRange(min=0),
    default=DEFAULT_KID_SUBSETS,
    show_default=True,
    help="Random subsets KID averages over; 0 skips KID.",
)
@click.option("--kid-subset-size", type=POSITIVE, default=DEFAULT_KID_SUBSET_SIZE, show_default=True)
@click.option(
    "--device",
    default="cpu",
    show_default=True,
    help="auto, cpu, cuda, cuda:N or mps: for sampling and extraction.",
)
@dataset_options
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def fid(
    source_a: str,
    source_b: str,
    features: str,
    count: int | None,
    seed: int,
    inception_weights: Path | None,
    kid_subsets: int,
    kid_subset_size: int,
    device: str,
    as_json: bool,
    **dataset_kwargs,
) -> None:
    """FID and KID of image source B against image source A.

    A source is a dataset split (mnist-10k:test), a run directory or checkpoint (samples of its EMA
    generator in eval mode), an .npz with uint8 'images', or a folder of images (folder:PATH).
    """
    if count is not None and count < 1:
        raise UsageError(f"--n must be a positive number of images; got {count}.")
    extractor = zoo().feature_extractors.get(features)  # an unknown name fails before any data is read
    if inception_weights is not None and extractor.build_from_file is None:
        raise UsageError(
            f"--inception-weights applies to extractors that take a weights file (inception), not {extractor.name!r}."
        )
    from ganzoo.engine import select_device

    torch_device = select_device(device)
    options = options_from_cli(**dataset_kwargs)
    real = load_image_source(source_a, count, seed, options=options, device=torch_device)
    fake = load_image_source(source_b, count, seed + 1, options=options, device=torch_device)
    evaluator = FidEvaluator(
        real.images,
        extractor.name,
        kid_subsets=kid_subsets,
        kid_subset_size=kid_subset_size,
        weights=inception_weights,
        device=torch_device,
        seed=seed,
    )
    result = evaluator.evaluate(fake.images)
    data = {
        "a": {"source": source_a, "description": real.description, "n": result.n_real},
        "b": {"source": source_b, "description": fake.description, "n": result.n_fake},
        **result.as_dict(),
        "seed": seed,
        "versions": {
            "ganzoo": ganzoo.__version__,
            "torch": _version("torch"),
            "torchmetrics": _version("torchmetrics"),
        },
    }
    if as_json:
        print_json(data)
        return
    for note in result.notes:
        warn(note)
    print_table(
        None,
        ["", "source", "images"],
        [("A", real.description, result.n_real), ("B", fake.description, result.n_fake)],
    )
    print_table(
        None,
        ["extractor", "FID", "KID (mean ± std)"],
        [(result.extractor, f"{result.fid:.4f}", _kid_text(result))],
    )


def _kid_text(result: FidResult) -> str:
    if result.kid_mean is None:
        return "-"
    return f"{result.kid_mean:.5f} ± {result.kid_std:.5f}"


def _version(distribution: str) -> str:
    import importlib.metadata

    return importlib.metadata.version(distribution)
