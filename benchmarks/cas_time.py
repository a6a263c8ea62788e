"""The cost of one CAS evaluation (ganzoo.metrics.cas) and of its parts: drawing 10,000 images from a
conditional generator at its default width, training the fixed classifier recipe on them, and testing it on
the 10,000 images of mnist-10k:test; and the real-data ceiling (the same recipe on real training images).
The cost does not depend on what the generator has learnt, so an untrained one is used.

    python -m benchmarks.cas_time [--model cgan-pd] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import ganzoo
from benchmarks.harness import machine_line, set_threads
from ganzoo.metrics.cas import (
    DEFAULT_IMAGES,
    DEFAULT_RECIPE,
    accuracy,
    generated_set,
    real_data_ceiling,
    train_classifier,
)


def one_evaluation(G, test) -> dict[str, float]:
    times = {}
    start = time.perf_counter()
    images, labels = generated_set(G, DEFAULT_IMAGES, seed=0)
    times["sampling"] = time.perf_counter() - start
    start = time.perf_counter()
    classifier = train_classifier(images, labels, G.num_classes, seed=0)
    times["training"] = time.perf_counter() - start
    start = time.perf_counter()
    accuracy(classifier, test.images, test.labels)
    times["testing"] = time.perf_counter() - start
    times["CAS total"] = sum(times.values())
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="cgan-pd")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    threads = set_threads()
    spec = ganzoo.get_model(args.model)
    train, test = ganzoo.load_dataset("mnist-10k:train"), ganzoo.load_dataset("mnist-10k:test")
    torch.manual_seed(0)
    G, _ = spec.build(train.image_shape, spec.defaults.replace(num_classes=10))
    rounds = [one_evaluation(G.eval(), test) for _ in range(args.rounds)]
    for timings in rounds:
        start = time.perf_counter()
        real_data_ceiling(train, test)
        timings["ceiling"] = time.perf_counter() - start
    print(
        f"CAS of {args.model}: {DEFAULT_IMAGES} generated images, recipe {DEFAULT_RECIPE}, {threads} threads"
    )
    for part in rounds[0]:
        values = [r[part] for r in rounds]
        print(
            f"  {part:<10} median {statistics.median(values):6.2f} s   (rounds: {', '.join(f'{v:.2f}' for v in values)})"
        )
    print(machine_line())


if __name__ == "__main__":
    main()
