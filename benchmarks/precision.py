"""The engine's default precision against every setting it could have chosen: one iteration of each built-in
model timed in fp32 and bf16 autocast, contiguous and channels_last (interleaved, same run), beside what the
default (the precision probe of ganzoo.engine.precision, with a fresh cache) picks. Target: the default's
iteration within 1.05x of the fastest. ``--fid-steps N`` also trains dcgan N steps in fp32 and in bf16 from
the same seed and scores both (FID, lenet-mnist, 10k vs mnist-10k:test): bf16 must not cost quality.

    python -m benchmarks.precision [--rounds 10] [--fid-steps 3000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import torch

from benchmarks.harness import (
    BUILTIN_MODELS,
    dataset,
    interleaved_medians,
    machine_line,
    markdown_table,
    measuring_trainer,
    set_threads,
)
from ganzoo.engine import precision
from ganzoo.machine import cpu_line


def compare(model: str, rounds: int) -> list[list[str]]:
    with tempfile.TemporaryDirectory() as cache:
        os.environ[precision.CACHE_ENV] = str(Path(cache) / "precision.json")
        default = measuring_trainer(model)  # probes, as a first run on this machine would
        del os.environ[precision.CACHE_ENV]
    chosen = precision.Setting(default.placement.amp, default.placement.memory_format == torch.channels_last)
    convolutional = any(isinstance(m, torch.nn.Conv2d) for m in default.D.modules())
    settings = precision.candidates(None, None, convolutional)
    steps = {
        s.label: measuring_trainer(model, amp=s.amp, channels_last=s.channels_last).train_step
        for s in settings
    }
    seconds = interleaved_medians(steps, rounds=rounds, untimed_first=True)
    fastest = min(seconds.values())
    rows = []
    for label, value in seconds.items():
        mark = " (default)" if label == chosen.label else ""
        rows.append([model, label + mark, f"{value * 1e3:.2f}", f"{value / fastest:.3f}"])
    return rows


def fid_in_both_precisions(steps: int) -> list[list[str]]:
    import ganzoo
    from ganzoo.metrics.fid import FidEvaluator, sample_uint8

    test = dataset("mnist-10k:test")
    evaluator = FidEvaluator(test.images, "lenet-mnist", kid_subsets=0, manifold=False, classifier=False)
    rows = []
    for amp in (False, True):
        with tempfile.TemporaryDirectory() as out:
            run = ganzoo.train(
                model="dcgan",
                steps=steps,
                out=f"{out}/run",
                amp=amp,
                sample_every=0,
                checkpoint_every=0,
                seed=0,
            )
            seconds = run.metrics()[-1]["train_seconds"]
            images = sample_uint8(run.load_generator(), len(test.images), seed=1)
        result = evaluator.evaluate(images)
        rows.append(["dcgan", "bf16" if amp else "fp32", str(steps), f"{seconds:.0f}", f"{result.fid:.2f}"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument(
        "--fid-steps", type=int, default=0, help="also train dcgan this many steps per precision"
    )
    args = parser.parse_args()
    set_threads()
    print(f"Machine: {machine_line()}; CPU flags: {cpu_line()}")
    rows = [row for model in BUILTIN_MODELS for row in compare(model, args.rounds)]
    print(markdown_table(["model", "setting", "ms / iteration", "/ fastest"], rows))
    if args.fid_steps:
        print()
        print(
            markdown_table(
                ["model", "precision", "steps", "train s", "FID"], fid_in_both_precisions(args.fid_steps)
            )
        )


if __name__ == "__main__":
    main()
