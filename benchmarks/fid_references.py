"""Measure every metric of the reference sets of an extractor (floor, blurred digits, five classes, uniform
noise) at 10,000 vs 10,000 images, and the time each part takes (feature extraction, the Fréchet distance,
KID, precision/recall/density/coverage, the real set's neighbour radii), with the ratio of the manifold
metrics' cost to the extraction's; print the tables and write them to benchmarks/fid_references.md.

Usage: python -m benchmarks.fid_references [--extractor lenet-mnist] [--n 10000] [--out PATH]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch

from benchmarks.harness import dataset, machine_line, markdown_table, set_threads
from ganzoo.metrics.fid import FidEvaluator
from ganzoo.metrics.manifold import ManifoldReference
from ganzoo.metrics.references import BLUR_SIGMA, REFERENCES, reference_images
from ganzoo.metrics.report import classifier_text, kid_text
from ganzoo.metrics.sources import random_subset

OUTPUT = Path(__file__).resolve().parent / "fid_references.md"


TIMING_REPEATS = 5  # the minimum over repeats: other work on shared cores only ever adds time


def measure(
    extractor: str, n: int, seed: int
) -> tuple[dict[str, float], list[list[str]], list[list[str]], str, list[float]]:
    train, test = dataset("mnist-10k:train"), dataset("mnist-10k:test")
    real = random_subset(train.images, n, seed, train.qualified_name)
    chosen_indices = random_subset(torch.arange(len(test)), n, seed + 1, test.qualified_name)
    chosen, labels = test.images[chosen_indices], test.labels[chosen_indices]
    real_extraction = []
    for _ in range(TIMING_REPEATS):
        evaluator = FidEvaluator(real, extractor, seed=seed)
        real_extraction.append(evaluator.last_seconds["real_extraction"])
    rows, fids = [], {}
    for name, fakes in reference_images(chosen, labels, seed).items():
        result = evaluator.evaluate(fakes)
        fids[name] = result.fid
        rows.append(
            [
                name,
                REFERENCES[name],
                f"{result.n_real:,} vs {result.n_fake:,}",
                f"{result.fid:.3f}",
                kid_text(result.kid_mean, result.kid_sem),
                *(f"{getattr(result, m):.3f}" for m in ("precision", "recall", "density", "coverage")),
                classifier_text(result.classifier_score),
            ]
        )
    rows.append(["the reference set itself", "-", f"{n:,}", "-", "-", "-", "-", "-", "-",
                 classifier_text(evaluator.real_classifier_score)])
    seconds: dict[str, list[float]] = {"extraction": [], "fid": [], "kid": [], "manifold": [], "radii": []}
    for _ in range(TIMING_REPEATS):  # interleaved, so that load on the shared cores hits every part alike
        evaluator.evaluate(chosen)
        for part in ("extraction", "fid", "kid", "manifold"):
            seconds[part].append(evaluator.last_seconds[part])
        start = time.perf_counter()
        ManifoldReference(evaluator.real_features)
        seconds["radii"].append(time.perf_counter() - start)
    best = {part: min(values) for part, values in seconds.items()}
    timing_rows = [
        [f"{n:,} real images (once per reference set)", f"{min(real_extraction):.2f}", "-", "-", "-",
         f"{best['radii']:.3f}"],
        [
            f"{n:,} other images (each evaluation)",
            *(f"{best[p]:.3f}" for p in ("extraction", "fid", "kid", "manifold")),
            "-",
        ],
    ]
    ratios = [best["manifold"] / best["extraction"], (best["manifold"] + best["radii"]) / best["extraction"]]
    return fids, rows, timing_rows, evaluator.extractor_sha256 or "-", ratios


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extractor", default="lenet-mnist")
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    set_threads()
    load_before = os.getloadavg()[0]
    fids, rows, timing_rows, sha, ratios = measure(args.extractor, args.n, args.seed)
    text = "\n".join(
        [
            f"# Reference FIDs of `{args.extractor}`",
            "",
            f"Measured by `python -m benchmarks.fid_references` on {machine_line()}; load average "
            f"{load_before:.1f} before and {os.getloadavg()[0]:.1f} after (other work shares the cores).",
            f"Extractor weights {sha}. Reference set: {args.n:,} images of `mnist-10k:train` (seed {args.seed});",
            f"the other sets are made from {args.n:,} images of `mnist-10k:test`. Blur: Gaussian, sigma {BLUR_SIGMA:g}.",
            "KID: 100 subsets of 1,000, ± the standard error of their mean. Precision and recall: k = 3;",
            "density and coverage: k = 5. Classifier score: of the compared set, from the extractor's classifier.",
            "Scores from different extractors are not comparable.",
            "",
            markdown_table(
                ["reference", "images compared with the train split", "n", "FID", "KID", "precision", "recall",
                 "density", "coverage", "classifier score"],
                rows,
            ),
            "",
            f"The blurred digits score {fids['blurred'] / fids['floor']:.0f} times the floor and uniform noise "
            f"{fids['uniform_noise'] / fids['blurred']:.1f} times the blurred digits. Quality threshold of the bench "
            f"(issue 5): every model below the blurred-digits FID, {fids['blurred']:.1f}; the best below a quarter "
            f"of it, {fids['blurred'] / 4:.1f}. `lenet-mnist` features are centred and divided by one fixed scale "
            "(see ganzoo/metrics/lenet.py), so its FIDs are smaller than those of raw activations.",
            "",
            f"Seconds (minimum of {TIMING_REPEATS} runs) of each part of an evaluation:",
            "",
            markdown_table(
                ["images", "feature extraction", "Fréchet distance (FID)", "KID",
                 "precision, recall, density, coverage", "real neighbour radii"],
                timing_rows,
            ),
            "",
            f"Precision, recall, density and coverage of {args.n:,} against {args.n:,} cost "
            f"{ratios[0]:.2f} times the feature extraction of the {args.n:,} generated images per evaluation "
            f"(the real radii are computed once per reference set; with them, {ratios[1]:.2f} times).",
            "",
        ]
    )
    print(text)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
