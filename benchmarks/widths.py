"""Step time and FLOPs of each built-in model's iteration at several generator/discriminator widths, to
choose CPU-friendly defaults (whether a width still learns well is measured with time_to_quality --set).

    python -m benchmarks.widths [--models vanilla,dcgan,wgan-gp] [--widths 16,32,48,64] [--rounds 8]
"""

from __future__ import annotations

import argparse
import sys

from benchmarks.flops import count_flops
from benchmarks.harness import (
    BUILTIN_MODELS,
    interleaved_medians,
    machine_line,
    markdown_table,
    measuring_trainer,
    set_threads,
)
from ganzoo.registry import zoo


def measure_widths(model: str, widths: list[int], rounds: int) -> list[list[str]]:
    steps, flops, parameters = {}, {}, {}
    for width in widths:
        trainer = measuring_trainer(
            model, overrides=[f"generator_width={width}", f"discriminator_width={width}"]
        )
        steps[width] = trainer.train_step
        flops[width] = count_flops(trainer.train_step)
        parameters[width] = tuple(sum(p.numel() for p in net.parameters()) for net in (trainer.G, trainer.D))
    seconds = interleaved_medians(steps, rounds=rounds)
    default = seconds.get(64)
    default_width = zoo().models.get(model).defaults.generator_width
    return [
        [
            model,
            f"{width} (default)" if width == default_width else str(width),
            f"{parameters[width][0] / 1e6:.2f}M / {parameters[width][1] / 1e6:.2f}M",
            f"{flops[width] / 1e9:.2f}",
            f"{seconds[width] * 1e3:.1f}",
            f"{default / seconds[width]:.1f}x" if default else "-",
        ]
        for width in widths
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(BUILTIN_MODELS))
    parser.add_argument("--widths", default="16,32,48,64", help="comma-separated; 64 is the papers' width")
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args(argv)
    set_threads()
    widths = [int(w) for w in args.widths.split(",")]
    rows = [
        row for model in args.models.split(",") for row in measure_widths(model.strip(), widths, args.rounds)
    ]
    columns = ["model", "width (G = D)", "parameters G / D", "GFLOP/iteration", "ms/iteration", "vs width 64"]
    print(markdown_table(columns, rows))
    print(f"\n{machine_line()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
