"""The measures of a conditional model beside FID, for a run or a generator: CAS with its real-data ceiling
(ganzoo.metrics.cas) and intra-class FID (FID of each class's images against that class's real test
images, averaged over the classes, as StudioGAN reports it)."""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import torch

from ganzoo import checkpoint as ckpt
from ganzoo.datasets.base import DatasetOptions, ImageDataset, load_dataset, split_source_name
from ganzoo.errors import UsageError
from ganzoo.interfaces import Generator
from ganzoo.metrics.cas import (
    DEFAULT_IMAGES,
    DEFAULT_RECIPE,
    ClassifierRecipe,
    check_held_out,
    classification_accuracy_score,
    real_data_ceiling,
)
from ganzoo.metrics.fid import DEFAULT_EXTRACTOR, FidEvaluator, sample_uint8

INTRA_FID_PER_CLASS = 1000  # generated images per class (and at most this many real ones)


def intra_class_fid(
    G: Generator,
    test: ImageDataset,
    *,
    per_class: int = INTRA_FID_PER_CLASS,
    features: str = DEFAULT_EXTRACTOR,
    seed: int = 0,
) -> dict[str, Any]:
    """FID of ``per_class`` images of each class against the real ``test`` images of that class (at most
    ``per_class`` of them), and their mean. FID is biased upwards at small counts: compare like with like."""
    if not G.conditional or test.labels is None or test.num_classes != G.num_classes:
        raise UsageError("intra-class FID needs a conditional generator and a test split with its classes.")
    per_class_fid = []
    for label in range(G.num_classes):
        real = test.images[test.labels == label][:per_class]
        if len(real) < 2:
            raise UsageError(f"{test.qualified_name} has fewer than 2 images of class {label}.")
        evaluator = FidEvaluator(real, features, kid_subsets=0, manifold=False, classifier=False)
        generator = torch.Generator().manual_seed(seed + label)
        fake = sample_uint8(G, per_class, generator=generator, labels=label)
        per_class_fid.append(evaluator.evaluate(fake).fid)
    return {
        "intra_fid": statistics.mean(per_class_fid),
        "per_class_fid": per_class_fid,
        "n_fake_per_class": per_class,
        "features": features,
        "test_split": test.qualified_name,
    }


def run_datasets(run: Path, test_split: str | None) -> tuple[ImageDataset, ImageDataset, set[str]]:
    """(the run's training split, the held-out test split, the fingerprints the run trained on)."""
    config = ckpt.read_run_config(run)
    try:
        name, fingerprint = str(config["dataset"]["name"]), str(config["dataset"]["fingerprint"])
    except (KeyError, TypeError):
        raise ckpt.CheckpointError(
            f"{run / ckpt.CONFIG_FILE} does not say which dataset the run used."
        ) from None
    options = DatasetOptions(progress=False)
    test = load_dataset(test_split or f"{name}:test", options=options)
    base, _ = split_source_name(name)
    train = load_dataset(f"{base}:train" if not base.startswith("folder:") else base, options=options)
    return train, test, {fingerprint}


def evaluate_run(
    run: Path,
    *,
    test_split: str | None = None,
    n: int = DEFAULT_IMAGES,
    seed: int = 0,
    ceiling: bool = True,
    intra_fid: bool = False,
    recipe: ClassifierRecipe | None = None,
) -> dict[str, Any]:
    """CAS of a run's EMA generator on the held-out test split, beside the ceiling and intra-FID if asked
    (``recipe`` None: the fixed DEFAULT_RECIPE)."""
    recipe = recipe or DEFAULT_RECIPE
    G = ckpt.load_generator(run)
    if not G.conditional:
        raise UsageError(
            f"{run} holds model {G.model_name!r}, which is not class-conditional; CAS needs labels."
        )
    train, test, trained_on = run_datasets(Path(run), test_split)
    check_held_out(test, trained_on)
    start = time.perf_counter()
    results: dict[str, Any] = {
        "model": G.model_name,
        "run": str(run),
        "checkpoint_sha256": G.checkpoint_sha256,
    }
    results.update(
        classification_accuracy_score(G, test, trained_on=trained_on, n=n, seed=seed, recipe=recipe)
    )
    results["cas_seconds"] = time.perf_counter() - start
    if ceiling:
        results.update(real_data_ceiling(train, test, n=n, seed=seed, recipe=recipe))
    if intra_fid:
        results.update(intra_class_fid(G, test, per_class=INTRA_FID_PER_CLASS, seed=seed))
    return results


def bench_scores(run_directories: list[str], train: ImageDataset, test: ImageDataset) -> dict[str, Any]:
    """For `ganzoo bench`: CAS and intra-FID of a conditional model's runs (mean over seeds), and the
    ceiling on ``train`` (the same for every model, computed with seed 0)."""
    cas_values, intra = [], []
    for seed, directory in enumerate(run_directories):
        G = ckpt.load_generator(directory)
        scores = classification_accuracy_score(G, test, trained_on={train.fingerprint}, seed=seed)
        cas_values.append(scores["cas"])
        intra.append(intra_class_fid(G, test, seed=seed)["intra_fid"])
    return {
        "cas_mean": statistics.mean(cas_values),
        "cas": cas_values,
        "intra_fid_mean": statistics.mean(intra),
        "intra_fid": intra,
        "cas_recipe": DEFAULT_RECIPE.as_dict(),
        "cas_n_generated": DEFAULT_IMAGES,
    }


def bench_markdown(results: dict[str, Any]) -> str:
    """The bench's conditional section: CAS, its ceiling and intra-FID; empty with no conditional model."""
    rows = [m for m in results["models"] if "cas_mean" in m]
    if not rows:
        return ""
    ceiling = results.get("cas_ceiling", {})
    lines = [
        "## Conditional models",
        "",
        f"CAS: test accuracy on `{results['reference_split']}` of the fixed classifier recipe "
        f"(ganzoo.metrics.cas) trained on {DEFAULT_IMAGES} generated images with balanced labels; the ceiling "
        f"is the same recipe on {ceiling.get('n_real', DEFAULT_IMAGES)} real images of "
        f"`{results['training_split']}`. Intra-FID: FID per class ({INTRA_FID_PER_CLASS} generated images "
        "against that class's test images), averaged.",
        "",
        "| model | CAS | intra-FID |",
        "|---|---|---|",
    ]
    for m in sorted(rows, key=lambda m: -m["cas_mean"]):
        lines.append(f"| {m['model']} | {100 * m['cas_mean']:.2f}% | {m['intra_fid_mean']:.2f} |")
    if ceiling:
        lines.append(f"| real data (ceiling) | {100 * ceiling['ceiling']:.2f}% | - |")
    return "\n".join(lines + ["", ""])
