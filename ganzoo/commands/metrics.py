"""`ganzoo metrics A B` (also `ganzoo fid A B`): FID, KID, precision, recall, density, coverage and the
classifier score between two image sources, with one feature extractor."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click
from rich.markup import escape

import ganzoo
from ganzoo.commands import SEED
from ganzoo.commands.datasets import dataset_options, options_from_cli
from ganzoo.console import Column, print_json, print_table, warn
from ganzoo.errors import UsageError
from ganzoo.metrics.fid import (
    DEFAULT_EXTRACTOR,
    DEFAULT_KID_SUBSET_SIZE,
    DEFAULT_KID_SUBSETS,
    FidEvaluator,
)
from ganzoo.metrics.inception import WEIGHTS_ENV
from ganzoo.metrics.reference_cache import (
    ReferenceFeatures,
    is_reference_file,
    load_reference,
    save_reference,
)
from ganzoo.metrics.report import metric_rows
from ganzoo.metrics.sources import ImageSource, load_image_source
from ganzoo.registry import zoo

POSITIVE = click.IntRange(min=1)


@click.command("fid")
@click.argument("source_a")
@click.argument("source_b", required=False)
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
    help=f"Local InceptionV3 weights for --features inception (or set {WEIGHTS_ENV}); default: the standard FID "
    "weights, downloaded once into the cache and verified (never with --no-download).",
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
    "--manifold/--no-manifold",
    default=True,
    show_default=True,
    help="Precision and recall (k=3), density and coverage (k=5) on the extractor's features.",
)
@click.option(
    "--device",
    default="cpu",
    show_default=True,
    help="auto, cpu, cuda, cuda:N or mps: for sampling and extraction.",
)
@dataset_options
@click.option(
    "--save-stats",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Save source A's features (and their mu, sigma) to this .npz; pass the file as A later instead of "
    "the images. With no B, only saves.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def fid(
    source_a: str,
    source_b: str | None,
    features: str,
    count: int | None,
    seed: int,
    inception_weights: Path | None,
    kid_subsets: int,
    kid_subset_size: int,
    manifold: bool,
    device: str,
    save_stats: Path | None,
    as_json: bool,
    **dataset_kwargs,
) -> None:
    """FID, KID, precision/recall, density/coverage and the classifier score of source B against source A.

    A holds the real images, or is a statistics file saved by --save-stats (features computed once; the
    real images' features are also cached, keyed by the images and the extractor's weights).
    A source is a dataset split (mnist-10k:test), a run directory or checkpoint (samples of its EMA
    generator in eval mode), an .npz with uint8 'images', or a folder of images (folder:PATH). Images keep
    their own size: a folder is resized only with --image-size. Every conversion the extractor makes is in
    the notes and the JSON. KID's "±" is the standard error of the mean over its subsets.
    """
    if count is not None and count < 1:
        raise UsageError(f"--n must be a positive number of images; got {count}.")
    if source_b is None and save_stats is None:
        raise UsageError("name image source B to score against A, or pass --save-stats PATH to save A's features.")
    if save_stats is not None and save_stats.exists():
        raise UsageError(f"{save_stats} exists; choose another file for --save-stats (nothing was overwritten).")
    extractor = zoo().feature_extractors.get(features)  # an unknown name fails before any data is read
    if inception_weights is not None and extractor.build_from_file is None:
        raise UsageError(
            f"--inception-weights applies to extractors that take a weights file (inception), not {extractor.name!r}."
        )
    from ganzoo.engine import select_device

    torch_device = select_device(device)
    options = options_from_cli(**dataset_kwargs)
    if extractor.name == "inception" and inception_weights is None:
        inception_weights = _inception_weights(download=options.download)
    reference = _reference_file(source_a, count)
    if reference is not None:  # features saved by --save-stats stand in for A's images
        real = ImageSource(None, f"{reference.description} (statistics file {source_a})")
    else:
        real = load_image_source(source_a, count, seed, options=options, device=torch_device)
    evaluator = FidEvaluator(
        reference or real.images,
        extractor.name,
        kid_subsets=kid_subsets,
        kid_subset_size=kid_subset_size,
        weights=inception_weights,
        device=torch_device,
        seed=seed,
        manifold=manifold,
        cache=True,
    )
    if save_stats is not None:
        save_reference(save_stats, dataclasses.replace(evaluator.reference, description=real.description))
        if source_b is None:
            click.echo(f"Saved the features of {escape(real.description)} to {save_stats}.")
            return
    fake = load_image_source(source_b, count, seed + 1, options=options, device=torch_device)
    result = evaluator.evaluate(fake.images)
    notes = [f"A: {note}" for note in real.notes] + [f"B: {note}" for note in fake.notes] + list(result.notes)
    data = {
        "a": {"source": source_a, "description": real.description, "n": result.n_real,
              "features_from_cache": evaluator.reference_cached},
        "b": {"source": source_b, "description": fake.description, "n": result.n_fake},
        **result.as_dict(),
        "notes": notes,
        "kid_error_bar": "kid_sem: the standard error of the mean of the subset estimates; "
        "kid_std: the spread of single-subset estimates",
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
    for note in notes:
        warn(escape(note))
    print_table(
        None,
        [Column("", wrap=False), "source", Column("images", wrap=False)],
        [("A", real.description, result.n_real), ("B", fake.description, result.n_fake)],
    )
    print_table(
        f"features: {result.extractor}",
        [Column("metric", wrap=False), Column("B against A", wrap=False), Column("A itself", wrap=False)],
        metric_rows(result),
    )


def _reference_file(spec: str, count: int | None) -> ReferenceFeatures | None:
    """Source A's features when it names a statistics file saved by --save-stats, else None."""
    path = Path(spec).expanduser()
    if not is_reference_file(path):
        return None
    reference = load_reference(path)
    if count is not None and count != len(reference.features):
        raise UsageError(
            f"{path} holds the features of {len(reference.features)} images; --n {count} cannot change that "
            f"(drop --n, or save statistics of {count} images)."
        )
    return reference


def _inception_weights(*, download: bool) -> Path | None:
    """The weights file for --features inception: the user's, or the standard one from the cache (fetched
    only when allowed: --no-download never downloads); None leaves the explanation to the extractor."""
    from ganzoo.metrics.inception import torch_fidelity_installed
    from ganzoo.metrics.inception_weights import resolve_inception_weights, user_weights

    if user_weights(None) is not None or not torch_fidelity_installed():
        return None
    return resolve_inception_weights(None, download=download)


def _version(distribution: str) -> str:
    import importlib.metadata

    return importlib.metadata.version(distribution)


metrics = click.Command(
    "metrics",
    callback=fid.callback,
    params=fid.params,
    help=fid.help,
)
