"""Measure the reference FIDs of an extractor (floor, blurred digits, five classes, uniform noise) at 10,000
vs 10,000 images, and the time feature extraction and the Fréchet distance take; print the table and
write it to benchmarks/fid_references.md.

Usage: python -m benchmarks.fid_references [--extractor lenet-mnist] [--n 10000] [--out PATH]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch

from benchmarks.harness import dataset, machine_line, markdown_table, set_threads
from ganzoo.metrics.fid import FidEvaluator
from ganzoo.metrics.references import BLUR_SIGMA, REFERENCES, reference_images
from ganzoo.metrics.sources import random_subset

OUTPUT = Path(__file__).resolve().parent / "fid_references.md"


TIMING_REPEATS = 5  # the minimum over repeats: other work on shared cores only ever adds time


def measure(
    extractor: str, n: int, seed: int
) -> tuple[dict[str, float], list[list[str]], list[list[str]], str]:
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
                f"{result.kid_mean:.5f} ± {result.kid_std:.5f}",
            ]
        )
    seconds: dict[str, list[float]] = {"extraction": [], "fid": [], "kid": []}
    for _ in range(TIMING_REPEATS):
        evaluator.evaluate(chosen)
        for part, values in seconds.items():
            values.append(evaluator.last_seconds[part])
    timing_rows = [
        [f"{n:,} real images (once per reference set)", f"{min(real_extraction):.2f}", "-", "-"],
        [
            f"{n:,} other images (each evaluation)",
            *(f"{min(seconds[p]):.3f}" for p in ("extraction", "fid", "kid")),
        ],
    ]
    return fids, rows, timing_rows, evaluator.extractor_sha256 or "-"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extractor", default="lenet-mnist")
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    set_threads()
    load_before = os.getloadavg()[0]
    fids, rows, timing_rows, sha = measure(args.extractor, args.n, args.seed)
    text = "\n".join(
        [
            f"# Reference FIDs of `{args.extractor}`",
            "",
            f"Measured by `python -m benchmarks.fid_references` on {machine_line()}; load average "
            f"{load_before:.1f} before and {os.getloadavg()[0]:.1f} after (other work shares the cores).",
            f"Extractor weights {sha}. Reference set: {args.n:,} images of `mnist-10k:train` (seed {args.seed});",
            f"the other sets are made from {args.n:,} images of `mnist-10k:test`. Blur: Gaussian, sigma {BLUR_SIGMA:g}.",
            "KID: 100 subsets of 1,000. Scores from different extractors are not comparable.",
            "",
            markdown_table(["reference", "images compared with the train split", "n", "FID", "KID"], rows),
            "",
            f"The blurred digits score {fids['blurred'] / fids['floor']:.0f} times the floor and uniform noise "
            f"{fids['uniform_noise'] / fids['blurred']:.1f} times the blurred digits. Quality threshold of the bench "
            f"(issue 5): every model below the blurred-digits FID, {fids['blurred']:.1f}; the best below a quarter "
            f"of it, {fids['blurred'] / 4:.1f}. `lenet-mnist` features are centred and divided by one fixed scale "
            "(see ganzoo/metrics/lenet.py), so its FIDs are smaller than those of raw activations.",
            "",
            f"Seconds (minimum of {TIMING_REPEATS} runs) of each part of an evaluation:",
            "",
            markdown_table(["images", "feature extraction", "Fréchet distance (FID)", "KID"], timing_rows),
            "",
        ]
    )
    print(text)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
