"""FLOPs per training iteration of each built-in model (and each reference baseline), counted by
torch.utils.flop_counter over one iteration, and the GFLOP/s each achieves beside the machine's fp32
and bf16 matmul ceilings (a large square matmul, best of a few). Iterations are timed in the steady state of
a training loop: each timed one follows an untimed one of the same model.

    python -m benchmarks.flops [--rounds 10] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.harness import (
    BUILTIN_MODELS,
    dataset,
    interleaved_medians,
    machine,
    machine_line,
    markdown_table,
    measuring_trainer,
    set_threads,
)
from benchmarks.reference_models import BASELINES


class GlobalScopeOnly:
    """Stands in for FlopCounterMode's module tracker: the tracker's backward hooks make
    ``torch.autograd.grad`` on a leaf (the gradient penalty's interpolates) fail, and we only need the total."""

    parents = frozenset({"Global"})

    def __enter__(self) -> GlobalScopeOnly:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def count_flops(step: Callable[[], Any]) -> int:
    """Floating-point operations of one call (matmuls and convolutions, forward and backward: the ops the
    counter knows, which carry nearly all the arithmetic)."""
    counter = FlopCounterMode(display=False)
    counter.mod_tracker = GlobalScopeOnly()
    with counter:
        step()
    return int(counter.get_total_flops())


def matmul_ceiling(size: int = 2048, repeats: int = 5, dtype: torch.dtype = torch.float32) -> float:
    """Best GFLOP/s of a size x size matmul in ``dtype`` over ``repeats`` runs, after one warm-up."""
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def iteration_steps(overrides: list[str] | None = None) -> dict[str, Callable[[], Any]]:
    """One iteration of every built-in model through the engine in fp32 and, where the engine's defaults
    differ (bf16 autocast on CUDA and AMX CPUs), with its defaults too; and of every reference baseline."""
    steps: dict[str, Callable[[], Any]] = {}
    for model in BUILTIN_MODELS:
        steps[f"{model} (fp32)"] = measuring_trainer(model, overrides=overrides, amp=False).train_step
        default = measuring_trainer(model, overrides=overrides)
        if default.amp:
            channels_last = ", channels_last" if default.memory_format == torch.channels_last else ""
            steps[f"{model} (defaults: bf16 autocast{channels_last})"] = default.train_step
    for name, baseline in BASELINES.items():
        steps[name] = baseline(dataset().images).step
    return steps


def measure(rounds: int, overrides: list[str] | None = None) -> dict[str, Any]:
    ceilings = {"fp32": matmul_ceiling(), "bf16": matmul_ceiling(dtype=torch.bfloat16)}
    steps = iteration_steps(overrides)
    flops = {name: count_flops(step) for name, step in steps.items()}
    # Each timed iteration follows an untimed one of the same model, as in training, where one model's
    # iterations follow each other (timed right after another model's, dcgan's took 10-15% longer).
    seconds = interleaved_medians(steps, rounds=rounds, untimed_first=True)
    rows = []
    for name in steps:
        achieved = flops[name] / seconds[name] / 1e9
        rows.append(
            {
                "model": name,
                "gflop_per_iteration": flops[name] / 1e9,
                "ms_per_iteration": seconds[name] * 1e3,
                "achieved_gflops": achieved,
                "fraction_of_fp32_ceiling": achieved / ceilings["fp32"],
                "fraction_of_bf16_ceiling": achieved / ceilings["bf16"],
            }
        )
    return {"matmul_ceiling_gflops": ceilings, "rounds": rounds, "models": rows, "machine": machine()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10, help="timed iterations per model (median)")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], help="ganzoo models: key=value"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    set_threads()
    report = measure(args.rounds, args.overrides)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    rows = [
        [
            r["model"],
            f"{r['gflop_per_iteration']:.2f}",
            f"{r['ms_per_iteration']:.1f}",
            f"{r['achieved_gflops']:.1f}",
            f"{r['fraction_of_fp32_ceiling']:.0%}",
            f"{r['fraction_of_bf16_ceiling']:.0%}",
        ]
        for r in report["models"]
    ]
    ceilings = report["matmul_ceiling_gflops"]
    print(
        f"matmul ceilings (2048x2048, best of 5): fp32 {ceilings['fp32']:.1f} GFLOP/s, "
        f"bf16 {ceilings['bf16']:.1f} GFLOP/s"
    )
    columns = ["model", "GFLOP/iteration", "ms/iteration", "GFLOP/s", "of fp32 ceiling", "of bf16 ceiling"]
    print(markdown_table(columns, rows))
    print(f"\n{machine_line()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
