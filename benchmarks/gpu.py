"""The GPU path in one script, under 10 minutes on one CUDA device: step benchmarks of each built-in model
(engine in fp32, engine with the GPU path on, the plain loop, the reference scripts) and a short time to
quality run, printed as tables. On a machine without CUDA it says so and exits 0.

    python -m benchmarks.gpu [--limit 30] [--rounds 30]
    python -m benchmarks.gpu --cpu-dry-run     # the same code on the CPU at toy sizes (a smoke test)

The GPU path is the engine's: bf16 autocast (TrainConfig.amp), channels_last for convolution models,
fused Adam (on for CUDA) and torch.compile (TrainConfig.compile). CUDA graphs are not used: the engine
has no switch for them.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

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
from benchmarks.plain_loop import plain_loop_like
from benchmarks.reference_models import BASELINES
from benchmarks.time_to_quality import FidJudge, QualityRun, run_baseline, run_engine_model

GPU_PATH = {"amp": True, "compile": True}  # channels_last and fused Adam follow from the CUDA device


def build_engine(model: str, device: str, gpu_path: bool, dry_run: bool) -> tuple[Any, str]:
    """A trainer with the GPU path on (falling back to eager when torch.compile cannot take the model,
    e.g. the gradient penalty's double backward) and a note of what was used."""
    if not gpu_path:
        return measuring_trainer(model, device=device, amp=False, channels_last=False), "fp32 eager"
    options = dict(GPU_PATH, compile=not dry_run)
    trainer = measuring_trainer(model, device=device, **options)
    try:
        trainer.train_step()  # compiles on first use
        return trainer, "bf16 autocast" + (" + compile" if options["compile"] else "")
    except Exception as exc:  # reported in the table; the model is then measured without compile
        reason = str(exc).splitlines()[0][:60]
        return measuring_trainer(model, device=device, amp=True), f"bf16 autocast (compile failed: {reason})"


def step_table(device: str, rounds: int, dry_run: bool) -> list[list[str]]:
    rows = []
    for model in BUILTIN_MODELS:
        eager, _ = build_engine(model, device, gpu_path=False, dry_run=dry_run)
        fast, how = build_engine(model, device, gpu_path=True, dry_run=dry_run)
        plain = plain_loop_like(eager)
        medians = interleaved_medians(
            {"eager": eager.train_step, "plain": plain.step, "fast": fast.train_step},
            rounds=rounds,
            warmup=3,
            device=device,
        )
        rows.append(
            [
                model,
                f"{medians['eager'] * 1e3:.2f}",
                f"{medians['plain'] * 1e3:.2f}",
                f"{medians['eager'] / medians['plain']:.3f}",
                f"{medians['fast'] * 1e3:.2f}",
                f"{medians['eager'] / medians['fast']:.2f}x",
                how,
            ]
        )
    for name, baseline_class in BASELINES.items():
        baseline = baseline_class(dataset().images, device=device)
        median = interleaved_medians({name: baseline.step}, rounds=rounds, warmup=3, device=device)[name]
        rows.append([name, f"{median * 1e3:.2f}", "-", "-", "-", "-", "reference script settings, fp32"])
    return rows


def quality_table(
    device: str, limit: float, eval_every: float, n_eval: int, dry_run: bool
) -> list[list[str]]:
    judge = FidJudge(n_eval, device=device)
    threshold = judge.blurred_reference()
    print(
        f"time to quality: threshold FID {threshold:.2f} ({judge.n} vs {judge.n} images), limit {limit:.0f} s"
    )
    rows = []
    for name in [*BUILTIN_MODELS, *BASELINES]:
        family = BASELINES[name].family if name in BASELINES else name
        run = QualityRun(name, family, judge, threshold, limit, eval_every, device=device)
        if name in BASELINES:
            result = run_baseline(run, BASELINES[name](dataset().images, device=device), judge.n)
        else:
            # compile is left off here: a short run would spend much of its budget compiling.
            result = run_engine_model(run, judge.n, 0, [], device=device, amp=True)
        reached = result["reached_seconds"]
        rows.append(
            [
                name,
                f"{reached:.1f} s" if reached is not None else f"not in {result['training_seconds']:.0f} s",
                f"{result['best_fid']:.1f}" if result["best_fid"] is not None else "-",
                str(result["iterations"]),
            ]
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30, help="alternating timed rounds per step benchmark")
    parser.add_argument(
        "--limit", type=float, default=30.0, help="seconds of training per model (time to quality)"
    )
    parser.add_argument("--eval-every", type=float, default=5.0)
    parser.add_argument("--n-eval", type=int, default=10_000)
    parser.add_argument(
        "--cpu-dry-run", action="store_true", help="run the same code on the CPU at toy sizes"
    )
    args = parser.parse_args(argv)
    set_threads()
    if args.cpu_dry_run:
        device, args.rounds, args.limit, args.eval_every, args.n_eval = "cpu", 2, 3.0, 1.5, 500
    elif not torch.cuda.is_available():
        print(
            "No CUDA device on this machine: benchmarks/gpu.py measures the GPU path and has nothing to do here."
        )
        return 0
    else:
        device = "cuda"
        torch.backends.cuda.matmul.allow_tf32 = False  # the fp32 columns are fp32
        torch.backends.cudnn.allow_tf32 = False
    start = time.perf_counter()
    columns = [
        "model",
        "engine fp32 ms",
        "plain fp32 ms",
        "engine/plain",
        "GPU path ms",
        "speed-up",
        "GPU path",
    ]
    print(markdown_table(columns, step_table(device, args.rounds, args.cpu_dry_run)))
    print()
    rows = quality_table(device, args.limit, args.eval_every, args.n_eval, args.cpu_dry_run)
    print(markdown_table(["model", "time to threshold", "best FID", "iterations"], rows))
    print(f"\n{machine_line()}; device {device}; {time.perf_counter() - start:.0f} s in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
