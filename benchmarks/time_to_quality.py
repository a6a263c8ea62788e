"""Time to quality: how long each built-in model and each reference baseline trains on mnist-10k before its
FID (lenet-mnist, 10,000 samples against mnist-10k:test) first falls below the blurred-digits reference.

Run from the repository root (the full measurement takes about 20 minutes on 2 cores)::

    python -m benchmarks.time_to_quality --limit 240 --overwrite

Training time is wall time with evaluations excluded (ganzoo's ``Trainer.train_seconds`` is recorded
too). ganzoo models are scored through their EMA generator in eval mode, the engine's default; the
baselines as their scripts draw samples: the generator itself, in training mode, in batches of 64.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from benchmarks.harness import (
    BUILTIN_MODELS,
    dataset,
    machine,
    markdown_table,
    measuring_trainer,
    set_threads,
    synchronize,
)
from benchmarks.reference_models import BASELINES, Baseline
from ganzoo.datasets.base import to_uint8
from ganzoo.engine import Callback, Trainer
from ganzoo.metrics.fid import FidEvaluator, sample_uint8
from ganzoo.metrics.references import BLUR_SIGMA, gaussian_blur

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "time_to_quality"
SAMPLE_SEED = 10_000  # the same latents at every evaluation, so successive FIDs differ by training only


class FidJudge:
    """FID of uint8 images against the first ``n`` test digits (real statistics extracted once). The
    threshold is the FID of those same digits blurred (ganzoo.metrics.references.gaussian_blur)."""

    def __init__(self, n: int, device: str = "cpu") -> None:
        self.real = dataset("mnist-10k:test").images[:n]
        self.n = len(self.real)
        self.evaluator = FidEvaluator(  # FID only
            self.real, "lenet-mnist", device=device, kid_subsets=0, manifold=False, classifier=False
        )

    def __call__(self, images: torch.Tensor) -> float:
        return self.evaluator.evaluate(images).fid

    def blurred_reference(self) -> float:
        return self(gaussian_blur(self.real))

    def resize_round_trip(self, size: int) -> float:
        """FID of test digits resized to ``size`` and back by the extractor: what a model trained at
        ``size`` (dcgan.py: 32) loses to resizing alone."""
        x = F.interpolate(self.real.float(), size=(size, size), mode="bilinear", antialias=True)
        return self(x.round().clamp(0, 255).to(torch.uint8))


@dataclass
class Evaluation:
    seconds: float  # training wall time, evaluations excluded
    iterations: int  # generator steps (each after all its critic steps)
    fid: float


@dataclass
class QualityRun:
    """The clock and evaluation schedule of one run; the engine and the baseline loops share it."""

    name: str
    family: str
    judge: Callable[[torch.Tensor], float]
    threshold: float
    limit: float
    eval_every: float
    stop_at_threshold: bool = True
    device: str = "cpu"  # on CUDA the clock is read after a synchronize, when an evaluation is due
    evaluations: list[Evaluation] = field(default_factory=list)
    reached: Evaluation | None = None
    eval_seconds: float = 0.0
    iterations: int = 0
    seconds: float = 0.0  # training seconds at the last iteration
    started: float = 0.0
    next_evaluation: float = 0.0

    def start(self) -> None:
        self.started, self.next_evaluation = time.perf_counter(), self.eval_every

    def training_seconds(self) -> float:
        return time.perf_counter() - self.started - self.eval_seconds

    def after_iteration(self, sample: Callable[[], torch.Tensor]) -> bool:
        """Count an iteration, evaluate when due; True when the run should stop."""
        self.iterations += 1
        seconds = self.seconds = self.training_seconds()
        out_of_time = seconds >= self.limit
        if seconds >= self.next_evaluation or out_of_time:
            synchronize(self.device)
            seconds = self.seconds = self.training_seconds()
            begin = time.perf_counter()
            fid = self.judge(sample())
            self.eval_seconds += time.perf_counter() - begin
            evaluation = Evaluation(round(seconds, 2), self.iterations, fid)
            self.evaluations.append(evaluation)
            print(f"  {self.name:10s} {seconds:7.1f} s  {self.iterations:6d} it  FID {fid:8.2f}", flush=True)
            while self.next_evaluation <= seconds:
                self.next_evaluation += self.eval_every
            if fid < self.threshold and self.reached is None:
                self.reached = evaluation
                if self.stop_at_threshold:
                    return True
        return out_of_time

    def summary(self) -> dict[str, Any]:
        best = min(self.evaluations, key=lambda e: e.fid) if self.evaluations else None
        return {
            "name": self.name,
            "family": self.family,
            "reached_seconds": self.reached.seconds if self.reached else None,
            "reached_fid": self.reached.fid if self.reached else None,
            "best_fid": best.fid if best else None,
            "best_seconds": best.seconds if best else None,
            "iterations": self.iterations,
            "training_seconds": round(self.seconds, 2),
            "evaluation_seconds": round(self.eval_seconds, 2),
            "evaluations": [asdict(e) for e in self.evaluations],
        }


class EvaluateEngine(Callback):
    """Drives a QualityRun from the engine's loop and ends the run with ``trainer.stop()``."""

    def __init__(self, run: QualityRun, n_samples: int) -> None:
        self.run, self.n_samples = run, n_samples

    def on_step(self, trainer: Trainer, step: int) -> None:
        def sample() -> torch.Tensor:
            latents = torch.Generator().manual_seed(SAMPLE_SEED)
            return sample_uint8(trainer.sampling_generator(), self.n_samples, generator=latents)

        if self.run.after_iteration(sample):
            trainer.stop()


def run_engine_model(
    run: QualityRun, n_samples: int, seed: int, overrides: list[str], **config: Any
) -> dict[str, Any]:
    """Train ``run.name`` through the engine; ``config`` holds extra TrainConfig fields (amp, device ...)."""
    callback = EvaluateEngine(run, n_samples)
    trainer = measuring_trainer(
        run.name, seed=seed, overrides=overrides, callbacks=[callback], steps=10**9, **config
    )
    run.start()
    trainer.run()
    return {
        **run.summary(),
        "train_seconds": round(trainer.train_seconds, 2),
        "overrides": overrides,
        **config,
    }


def run_baseline(run: QualityRun, baseline: Baseline, n_samples: int) -> dict[str, Any]:
    def sample() -> torch.Tensor:
        return to_uint8(baseline.sample(n_samples, torch.Generator().manual_seed(SAMPLE_SEED))).cpu()

    run.start()
    while True:
        baseline.step()
        if run.after_iteration(sample):
            return run.summary()


def speedups(results: list[dict[str, Any]], limit: float) -> dict[str, str]:
    """Per built-in model: each baseline's time to the threshold over the model's, as text."""
    by_name = {r["name"]: r for r in results}
    text: dict[str, list[str]] = {}
    for baseline_name, cls in BASELINES.items():
        model, baseline = by_name.get(cls.family), by_name.get(baseline_name)
        if model is None or baseline is None or model["reached_seconds"] is None:
            continue
        ours = max(model["reached_seconds"], 1e-9)
        if baseline["reached_seconds"] is None:
            ratio = f"> {baseline['training_seconds'] / ours:.1f}x (vs {baseline_name}, not reached)"
        else:
            ratio = f"{baseline['reached_seconds'] / ours:.1f}x (vs {baseline_name})"
        text.setdefault(cls.family, []).append(ratio)
    return {family: "; ".join(ratios) for family, ratios in text.items()}


def time_to(run: dict[str, Any], level: float) -> float | None:
    """Training seconds of the first evaluation at or below ``level``; None if the run never got there."""
    return next((e["seconds"] for e in run["evaluations"] if e["fid"] <= level), None)


def level_speedups(model: dict[str, Any], peer: dict[str, Any], threshold: float, levels: int = 12):
    """(level, peer seconds, model seconds, ratio) at FID levels spaced evenly in log from ``threshold``
    down to the best FID the peer reached; ratio 0 where the model never reached the level."""
    floor = peer["best_fid"]
    if floor is None or floor >= threshold:
        return []
    rows = []
    for k in range(levels):
        level = threshold * (floor / threshold) ** (k / (levels - 1))
        theirs, ours = time_to(peer, level), time_to(model, level)
        ratio = 0.0 if ours is None else theirs / max(ours, 1e-9)
        rows.append((level, theirs, ours, ratio))
    return rows


def level_markdown(report: dict[str, Any]) -> str:
    """The strong peers against their families at every FID level the peer reached."""
    by_name = {r["name"]: r for r in report["runs"]}
    lines = []
    for name, cls in BASELINES.items():
        if not name.startswith("peer-") or name not in by_name or cls.family not in by_name:
            continue
        rows = level_speedups(by_name[cls.family], by_name[name], report["threshold"])
        if not rows:
            lines.append(f"\n{cls.family} vs {name}: the peer never reached the threshold.")
            continue
        worst = min(rows, key=lambda row: row[3])
        table = [
            [f"{level:.2f}", f"{theirs:.0f} s", "-" if ours is None else f"{ours:.0f} s", f"{ratio:.1f}x"]
            for level, theirs, ours, ratio in rows
        ]
        lines += [
            f"\n{cls.family} vs {name}: at least {worst[3]:.1f}x sooner at every level "
            f"(worst at FID {worst[0]:.2f}).\n",
            markdown_table(["FID level", name, cls.family, "sooner"], table),
        ]
    return "\n".join(lines)


def results_markdown(report: dict[str, Any]) -> str:
    faster = speedups(report["runs"], report["limit_seconds"])
    rows = []
    for r in report["runs"]:
        reached = (
            f"{r['reached_seconds']:.0f} s"
            if r["reached_seconds"] is not None
            else f"not in {r['training_seconds']:.0f} s"
        )
        rows.append(
            [
                r["name"],
                reached,
                f"{r['reached_fid']:.1f}" if r["reached_fid"] is not None else "-",
                f"{r['best_fid']:.1f} at {r['best_seconds']:.0f} s" if r["best_fid"] is not None else "-",
                str(r["iterations"]),
                f"{r['iterations'] / max(r['training_seconds'], 1e-9):.1f}",
                faster.get(r["name"], "-"),
            ]
        )
    columns = [
        "model",
        "time to threshold",
        "FID then",
        "best FID",
        "iterations",
        "iterations/s",
        "sooner than",
    ]
    m = report["machine"]
    lines = [
        f"Threshold: FID {report['threshold']:.1f} ({report['threshold_source']}); FID of {report['n_eval']} "
        f"generated vs {report['n_eval']} `mnist-10k:test` images, lenet-mnist features. "
        f"Evaluated every {report['eval_every_seconds']:.0f} s of training, limit {report['limit_seconds']:.0f} s, "
        f"seed {report['seed']}; training time excludes evaluation.",
        "",
        markdown_table(columns, rows),
        "",
        f"Machine: {m['cpu']}, {m['cpu_count']} cores, {m['torch_threads']} torch threads, torch {m['torch']}, "
        f"{m['date']}. Command: `{report['command']}`",
    ]
    if report.get("resize_round_trip_fid") is not None:
        lines.append(
            f"\nResizing alone (test digits 28 -> 32 -> 28, as dcgan.py's data and the extractor do) gives "
            f"FID {report['resize_round_trip_fid']:.1f}."
        )
    levels = level_markdown(report)
    return "\n".join(lines) + ("\n" + levels if levels else "") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    names = [*BUILTIN_MODELS, *BASELINES]
    parser.add_argument(
        "--models", default=",".join(names), help=f"comma-separated, among {', '.join(names)}"
    )
    parser.add_argument(
        "--limit", type=float, default=240.0, help="seconds of training per model (default 240)"
    )
    parser.add_argument(
        "--eval-every", type=float, default=5.0, help="seconds of training between evaluations (default 5)"
    )
    parser.add_argument("--n-eval", type=int, default=10_000, help="generated and real images per FID")
    parser.add_argument(
        "--threshold", type=float, help="FID to reach (default: the blurred-digits reference)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads", type=int, help="torch threads (default: GANZOO_BENCH_THREADS, else all cores)"
    )
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], help="ganzoo models: key=value"
    )
    parser.add_argument("--amp", action="store_true", help="ganzoo models: bf16 autocast (TrainConfig.amp)")
    parser.add_argument("--keep-going", action="store_true", help="train to the limit after the threshold")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="writes OUT.md and OUT.json")
    parser.add_argument("--overwrite", action="store_true", help="replace existing OUT.md / OUT.json")
    args = parser.parse_args(argv)

    chosen = [name.strip() for name in args.models.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in names]
    if unknown or not chosen:
        parser.error(f"unknown model {', '.join(unknown) or '(none)'}; choose among {', '.join(names)}")
    if args.limit <= 0 or args.eval_every <= 0 or args.n_eval < 2:
        parser.error("--limit and --eval-every must be positive and --n-eval at least 2")
    outputs = [args.out.with_suffix(".md"), args.out.with_suffix(".json")]
    if not args.overwrite and any(path.exists() for path in outputs):
        parser.error(
            f"{outputs[0]} or {outputs[1]} exists; pass --overwrite to replace them, or choose --out"
        )
    set_threads()
    if args.threads:
        torch.set_num_threads(args.threads)

    judge = FidJudge(args.n_eval)
    threshold = args.threshold if args.threshold is not None else judge.blurred_reference()
    print(f"Threshold FID {threshold:.2f} ({judge.n} vs {judge.n} images); training limit {args.limit:.0f} s")
    runs = []
    for name in chosen:
        family = BASELINES[name].family if name in BASELINES else name
        run = QualityRun(name, family, judge, threshold, args.limit, args.eval_every, not args.keep_going)
        print(f"Training {name} ...", flush=True)
        if name in BASELINES:
            baseline = BASELINES[name](dataset().images, seed=args.seed)
            runs.append(run_baseline(run, baseline, judge.n))
        else:
            engine_options = {"amp": True} if args.amp else {}
            runs.append(run_engine_model(run, judge.n, args.seed, args.overrides, **engine_options))
    report = {
        "command": "python -m benchmarks.time_to_quality " + " ".join(sys.argv[1:] if argv is None else argv),
        "threshold": threshold,
        "threshold_source": "given with --threshold"
        if args.threshold is not None
        else f"the same test digits blurred with a Gaussian of sigma {BLUR_SIGMA:g}",
        "n_eval": judge.n,
        "reference_split": "mnist-10k:test",
        "training_split": "mnist-10k:train",
        "feature_extractor": {"name": "lenet-mnist", "sha256": judge.evaluator.extractor_sha256},
        "limit_seconds": args.limit,
        "eval_every_seconds": args.eval_every,
        "seed": args.seed,
        "resize_round_trip_fid": judge.resize_round_trip(32) if "dcgan.py" in chosen else None,
        "machine": machine(),
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    outputs[1].write_text(json.dumps(report, indent=2) + "\n")
    outputs[0].write_text(results_markdown(report))
    print(results_markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
