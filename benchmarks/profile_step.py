"""Where the engine's iteration spends its time on the CPU, per built-in model at batch 64: torch.profiler's
operator times grouped by kind, and the fixed per-iteration cost of Python, dispatch and autograd
(measured with networks so small that their arithmetic is negligible), engine and plain loop side by side.

    python -m benchmarks.profile_step [--models vanilla,dcgan,wgan-gp] [--steps 5]
    python -m benchmarks.profile_step --py-spy dcgan      # needs `pip install py-spy`
    python -m benchmarks.profile_step --by-shape dcgan [--tiny]   # top operators told apart by input shapes

``--loop MODEL SECONDS`` only runs train_step in a loop: the target py-spy records.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from torch.profiler import ProfilerActivity, profile, record_function

from benchmarks.harness import (
    BUILTIN_MODELS,
    interleaved_medians,
    machine_line,
    markdown_table,
    measuring_trainer,
    set_threads,
)
from benchmarks.plain_loop import plain_loop_like

# aten operators by kind; whatever is not listed counts as "elementwise and other operators".
KINDS = {
    "convolutions": (
        "aten::mkldnn_convolution",
        "aten::convolution_backward",
        "aten::_convolution",
        "aten::slow_conv_transpose2d",
        "aten::_slow_conv2d_forward",
        "aten::mkldnn_convolution_backward",
    ),
    "matmuls": ("aten::addmm", "aten::mm", "aten::bmm", "aten::matmul"),
    "batch norm": (
        "aten::native_batch_norm",
        "aten::native_batch_norm_backward",
        "aten::_batch_norm_with_update",
        "aten::batch_norm_backward",
    ),
}
TINY = ["generator_width=1", "discriminator_width=1", "batch_size=2"]  # arithmetic negligible, same op count


def operator_profile(model: str, steps: int) -> dict[str, Any]:
    """Per-iteration milliseconds by kind of operator, the optimizer's share, and the time outside any
    operator (Python, dispatch and the autograd engine; the profiler's own cost lands here too)."""
    trainer = measuring_trainer(model)
    for _ in range(2):
        trainer.train_step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            with record_function("iteration"):
                trainer.train_step()
    events = prof.key_averages()
    per_step: Counter[str] = Counter()
    operator_seconds = 0.0
    calls = 0
    top = []
    for event in events:
        if event.key == "iteration":
            per_step["total"] = event.cpu_time_total / steps / 1e3
        elif event.key.startswith("Optimizer.step"):
            per_step["optimizer (inclusive)"] += event.cpu_time_total / steps / 1e3
        elif event.key.startswith("aten::"):
            kind = next(
                (k for k, names in KINDS.items() if event.key in names), "elementwise and other operators"
            )
            per_step[kind] += event.self_cpu_time_total / steps / 1e3
            operator_seconds += event.self_cpu_time_total
            calls += event.count
            top.append((event.self_cpu_time_total / steps / 1e3, event.key, event.count // steps))
    per_step["outside operators"] = per_step["total"] - operator_seconds / steps / 1e3
    top.sort(reverse=True)
    return {"model": model, "ms": dict(per_step), "aten_calls": calls // steps, "top": top[:8]}


def operators_by_shape(
    model: str, steps: int, tiny: bool = False, count: int = 25
) -> list[tuple[float, int, str, str]]:
    """The ``count`` operators with the most self time per iteration, told apart by their input shapes:
    (ms per iteration, calls per iteration, operator, input shapes). ``tiny``: width 1, batch 2."""
    trainer = measuring_trainer(model, overrides=TINY, batch_size=2) if tiny else measuring_trainer(model)
    for _ in range(2):
        trainer.train_step()
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        for _ in range(steps):
            trainer.train_step()
    rows = [
        (event.self_cpu_time_total / steps / 1e3, event.count // steps, event.key, str(event.input_shapes))
        for event in prof.key_averages(group_by_input_shape=True)
        if event.key.startswith("aten::")
    ]
    return sorted(rows, reverse=True)[:count]


def fixed_cost(model: str, rounds: int) -> dict[str, float]:
    """Median seconds per iteration of tiny networks through the engine and the plain loop (alternating),
    and of the default networks (timed apart: right after a large step, a tiny one pays for the freed
    memory's page faults)."""
    tiny = measuring_trainer(model, overrides=TINY, batch_size=2)
    medians = interleaved_medians(
        {"engine": tiny.train_step, "plain": plain_loop_like(tiny).step}, rounds=rounds
    )
    medians["full"] = interleaved_medians({"full": measuring_trainer(model).train_step}, rounds=5)["full"]
    return medians


def loop(model: str, seconds: float) -> None:
    trainer = measuring_trainer(model)
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        trainer.train_step()


def py_spy_summary(model: str, seconds: float) -> list[tuple[float, str]]:
    """Record ``--loop model`` with py-spy and return the share of samples per innermost Python frame
    (time in C++ counts towards the Python function that called it)."""
    if shutil.which("py-spy") is None:
        raise SystemExit("py-spy is not installed: pip install py-spy")
    with tempfile.TemporaryDirectory() as directory:
        raw = Path(directory) / "samples.txt"
        command = [
            "py-spy",
            "record",
            "-r",
            "200",
            "-f",
            "raw",
            "-o",
            str(raw),
            "--",
            sys.executable,
            "-m",
            "benchmarks.profile_step",
            "--loop",
            model,
            str(seconds),
        ]
        subprocess.run(command, check=True, capture_output=True)
        leaves: Counter[str] = Counter()
        for line in raw.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if "train_step" not in stack:
                continue  # imports and set-up
            leaves[stack.split(";")[-1]] += int(count)
    total = sum(leaves.values())
    return [(count / total, frame) for frame, count in leaves.most_common(15)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(BUILTIN_MODELS))
    parser.add_argument("--steps", type=int, default=5, help="profiled iterations per model")
    parser.add_argument("--rounds", type=int, default=20, help="timed rounds for the fixed cost")
    parser.add_argument("--py-spy", metavar="MODEL", help="summarise a py-spy recording of MODEL's loop")
    parser.add_argument("--by-shape", metavar="MODEL", help="MODEL's top operators, by input shapes")
    parser.add_argument("--tiny", action="store_true", help="with --by-shape: width 1, batch 2")
    parser.add_argument("--loop", nargs=2, metavar=("MODEL", "SECONDS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    set_threads()
    if args.loop:
        loop(args.loop[0], float(args.loop[1]))
        return 0
    if args.by_shape:
        rows = [
            [f"{ms:.3f}", str(calls), name, shapes.replace("[], ", "").replace(", []", "")]
            for ms, calls, name, shapes in operators_by_shape(args.by_shape, args.steps * 4, args.tiny)
        ]
        print(markdown_table(["ms/iteration", "calls/iteration", "operator", "input shapes"], rows))
        print(f"\n{machine_line()}")
        return 0
    if args.py_spy:
        for share, frame in py_spy_summary(args.py_spy, 20.0):
            print(f"{share:6.1%}  {frame}")
        print(f"\n{machine_line()}")
        return 0
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    kinds = [*KINDS, "elementwise and other operators", "outside operators", "optimizer (inclusive)"]
    rows, details = [], []
    for model in models:
        result = operator_profile(model, args.steps)
        ms = result["ms"]
        rows.append(
            [
                model,
                f"{ms['total']:.1f}",
                *(f"{ms.get(k, 0.0):.1f}" for k in kinds),
                str(result["aten_calls"]),
            ]
        )
        details.append(f"{model}: " + ", ".join(f"{name} {t:.1f} ms ({n}x)" for t, name, n in result["top"]))
    print(markdown_table(["model", "ms/iteration (profiled)", *kinds, "aten calls"], rows))
    print()
    print("\n".join(details))
    print()
    cost_rows = []
    for model in models:
        medians = fixed_cost(model, args.rounds)
        cost_rows.append(
            [
                model,
                f"{medians['engine'] * 1e3:.2f}",
                f"{medians['plain'] * 1e3:.2f}",
                f"{(medians['engine'] - medians['plain']) * 1e6:.0f}",
                f"{medians['full'] * 1e3:.1f}",
                f"{medians['engine'] / medians['full']:.1%}",
            ]
        )
    columns = ["model", "tiny engine ms", "tiny plain ms", "engine extra us", "default ms", "fixed share"]
    print(markdown_table(columns, cost_rows))
    print(f"\n{machine_line()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
