"""The real-data floor against the sample count: every metric of random mnist-10k:train images against random
mnist-10k:test images at n = 500 ... 10,000, over several seeds, so that the sample-size bias of each metric is
known (ganzoo/metrics/sample_size.py quotes the FID rows). Writes benchmarks/floor_vs_n.md.

Usage: python -m benchmarks.floor_vs_n [--extractor lenet-mnist] [--seeds 5] [--out PATH]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmarks.harness import dataset, machine_line, markdown_table, set_threads
from ganzoo.metrics.fid import FidEvaluator
from ganzoo.metrics.sources import random_subset

OUTPUT = Path(__file__).resolve().parent / "floor_vs_n.md"
COUNTS = (500, 1_000, 2_000, 5_000, 10_000)
METRICS = ("fid", "kid_mean", "precision", "recall", "density", "coverage")


def span(values: list[float], digits: int) -> str:
    low, high = min(values), max(values)
    return (
        f"{low:.{digits}f}"
        if round(low, digits) == round(high, digits)
        else f"{low:.{digits}f}-{high:.{digits}f}"
    )


def measure(extractor: str, seeds: int) -> list[list[str]]:
    train, test = dataset("mnist-10k:train"), dataset("mnist-10k:test")
    rows = []
    for n in COUNTS:
        values: dict[str, list[float]] = {name: [] for name in (*METRICS, "score")}
        # All images of both splits: every seed draws the same sets, one run is enough.
        for seed in range(seeds if n < min(len(train), len(test)) else 1):
            real = random_subset(train.images, n, 2 * seed, train.qualified_name)
            other = random_subset(test.images, n, 2 * seed + 1, test.qualified_name)
            result = FidEvaluator(real, extractor, seed=seed).evaluate(other)
            for name in METRICS:
                values[name].append(getattr(result, name))
            if result.classifier_score is not None:
                values["score"].append(result.classifier_score.value)
            print(n, seed, {name: round(v[-1], 4) for name, v in values.items() if v}, flush=True)
        rows.append(
            [
                f"{n:,}",
                str(len(values["fid"])),
                span(values["fid"], 2),
                span(values["kid_mean"], 5),
                *(span(values[name], 3) for name in ("precision", "recall", "density", "coverage")),
                span(values["score"], 3) if values["score"] else "-",
            ]
        )
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extractor", default="lenet-mnist")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    set_threads()
    rows = measure(args.extractor, args.seeds)
    columns = [
        "n (each set)",
        "seeds",
        "FID",
        "KID",
        "precision",
        "recall",
        "density",
        "coverage",
        "classifier score (B)",
    ]
    text = "\n".join(
        [
            f"# The real-data floor of `{args.extractor}` against the sample count",
            "",
            f"Measured by `python -m benchmarks.floor_vs_n` on {machine_line()}. Each row: n random images of",
            "`mnist-10k:train` against n random images of `mnist-10k:test` (other seeds draw other subsets; at",
            "n = 10,000 both sets are the whole splits, so one run). Ranges are the lowest-highest over seeds.",
            "A model's score at n is to be read against the row of that n, never against the 10,000 row.",
            "",
            markdown_table(columns, rows),
            "",
        ]
    )
    print(text)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
