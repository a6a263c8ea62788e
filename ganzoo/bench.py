"""`ganzoo bench`: train registered models under one budget on one dataset and compare their FID and KID,
measured with one feature extractor and one sample count, beside the real-data floor, with provenance."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import platform
import statistics
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

import ganzoo
from ganzoo import checkpoint as ckpt
from ganzoo.augment import build_pipeline
from ganzoo.bench_progress import BenchProgress
from ganzoo.bench_restart import restartable
from ganzoo.bench_results import plot_fid_against_time, results_markdown
from ganzoo.conditioning import hyperparameters_for
from ganzoo.datasets.base import DatasetOptions, ImageDataset, load_dataset, split_source_name
from ganzoo.engine import Callback, TrainConfig, Trainer, select_device
from ganzoo.errors import UsageError
from ganzoo.images import save_grid
from ganzoo.metrics import conditional
from ganzoo.metrics import summary as metric_summary
from ganzoo.metrics.cas import real_data_ceiling
from ganzoo.metrics.fid import FidEvaluator, sample_uint8
from ganzoo.metrics.sample_size import sample_size_note
from ganzoo.metrics.sources import random_subset
from ganzoo.registry import plugin_versions, zoo
from ganzoo.report import write_report
from ganzoo.spec import check_model_outputs

QUICK_BUDGET_SECONDS = 8.0
QUICK_SAMPLES = 2000
KID_SUBSETS = 100  # of 1,000 images each, torchmetrics' default; KID is computed at the final evaluation only


@dataclass
class BenchConfig:
    """One benchmark: the same budget, data, extractor and sample counts for every model."""

    models: list[str]  # registered names or aliases
    dataset: str = "mnist-10k"  # trained on its train split, evaluated against its test split
    steps: int | None = None  # budget in generator steps; None: use time_budget
    time_budget: float = 240.0  # budget in seconds of training (evaluation excluded) per model and seed
    seeds: int = 1  # independent runs per model; FID is reported as mean ± std over them (no std from one)
    eval_every: int | None = None  # steps between evaluations; None: 4 evaluations over the budget
    n_eval: int = 10000  # generated and real images per FID/KID evaluation
    features: str = "lenet-mnist"  # feature extractor
    out: Path = Path("bench-results")  # results directory
    device: str = "auto"  # training device
    overrides: list[str] = field(default_factory=list)  # hyperparameter overrides applied to every model
    augment: list[str] = field(default_factory=list)  # DiffAugment names applied in every run (--augment)
    train_subset: int | None = None  # train on this many train-split images, drawn with each run's seed
    progress: bool = True

    @classmethod
    def quick(cls, **changes: Any) -> BenchConfig:
        """A smoke run under a minute in all: a few seconds per model and 2,000 samples."""
        base = {"time_budget": QUICK_BUDGET_SECONDS, "n_eval": QUICK_SAMPLES, "seeds": 1}
        return cls(**{**base, **changes})

    def validate(self) -> None:
        if not self.models:
            raise UsageError("name at least one --model, or pass --all.")
        if self.steps is not None and self.steps <= 0:
            raise UsageError(f"--steps must be positive, got {self.steps}.")
        if self.steps is None and not self.time_budget > 0:
            raise UsageError(f"--time-budget must be positive, got {self.time_budget}.")
        if self.seeds <= 0:
            raise UsageError(f"--seeds must be positive, got {self.seeds}.")
        if self.n_eval < 2:
            raise UsageError(f"--n-eval must be at least 2, got {self.n_eval}.")
        if self.eval_every is not None and self.eval_every <= 0:
            raise UsageError(f"--eval-every must be positive, got {self.eval_every}.")
        if self.train_subset is not None and self.train_subset <= 0:
            raise UsageError(f"--train-subset must be positive, got {self.train_subset}.")


@dataclass
class Evaluation:
    step: int
    train_seconds: float
    fid: float
    kid: float | None  # the final evaluation only
    kid_std: float | None  # spread of KID's single-subset estimates, not an error bar
    metrics: dict[str, Any] = field(default_factory=dict)  # KID's s.e.m., precision ... (final evaluation)


@dataclass
class SeedResult:
    seed: int
    run_directory: str
    steps: int
    train_seconds: float
    images_per_second: float
    evaluations: list[Evaluation]

    @property
    def final(self) -> Evaluation:
        return self.evaluations[-1]

    @property
    def best(self) -> Evaluation:
        return min(self.evaluations, key=lambda e: e.fid)


class EvaluateDuringTraining(Callback):
    """Evaluates the EMA generator at intervals and stops the run when the budget is spent."""

    def __init__(self, evaluator: FidEvaluator, config: BenchConfig, seed: int) -> None:
        self.evaluator, self.config, self.seed = evaluator, config, seed
        self.evaluations: list[Evaluation] = []
        self.eval_seconds = 0.0
        budget = config.time_budget
        self.next_eval_time = budget / 4 if config.steps is None and config.eval_every is None else math.inf

    def _due(self, trainer: Trainer, step: int) -> bool:
        if self.config.steps is not None:
            every = self.config.eval_every or max(1, self.config.steps // 4)
            return step % every == 0 or step >= self.config.steps
        if self.config.eval_every is not None:
            return step % self.config.eval_every == 0 or self._budget_spent(trainer)
        return trainer.train_seconds >= self.next_eval_time or self._budget_spent(trainer)

    def _budget_spent(self, trainer: Trainer) -> bool:
        return self.config.steps is None and trainer.train_seconds >= self.config.time_budget

    def on_step(self, trainer: Trainer, step: int) -> None:
        spent = self._budget_spent(trainer)
        if spent:
            trainer.stop()
        final = spent or step >= trainer.config.steps
        if not self._due(trainer, step):
            return
        trainer.report_evaluation_start(f"{'FID and KID' if final else 'FID'} of {self.config.n_eval} samples")
        start = time.perf_counter()
        generator = torch.Generator(device=trainer.device).manual_seed(10_000 + self.seed)
        fake = sample_uint8(trainer.sampling_generator(), self.config.n_eval, generator=generator)
        # KID costs more than extracting the features (benchmarks/RESULTS.md): the final evaluation only.
        self.evaluator.kid_subsets = KID_SUBSETS if final else 0
        self.evaluator.manifold = final  # precision, recall, density, coverage: the final evaluation only
        result = self.evaluator.evaluate(fake)
        evaluation = Evaluation(step, trainer.train_seconds, result.fid, result.kid_mean, result.kid_std,
                                metric_summary.evaluation_metrics(result) if final else {})
        self.evaluations.append(evaluation)
        while self.next_eval_time <= trainer.train_seconds:
            self.next_eval_time += self.config.time_budget / 4
        self.eval_seconds += time.perf_counter() - start
        trainer.report_evaluation(dataclasses.asdict(evaluation))


def machine_description() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    description = {
        "cpu": cpu,
        "cpu_count": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
    }
    if torch.cuda.is_available():
        description["gpu"] = torch.cuda.get_device_name()
    return description


def versions() -> dict[str, Any]:
    import torchmetrics

    return {
        "ganzoo": ganzoo.__version__,
        "torch": torch.__version__,
        "torchmetrics": torchmetrics.__version__,
        "python": platform.python_version(),
        "plugins": plugin_versions(),
    }


def run_benchmark(config: BenchConfig, *, console=None) -> dict[str, Any]:
    """Train and evaluate every model of ``config``; write results.json, results.md, the plot and grids.
    Progress (``config.progress``) is a live display on a terminal, plain lines on stderr otherwise."""
    budget = None if config.steps else config.time_budget
    with BenchProgress(
        len(config.models) * config.seeds, budget=budget, steps=config.steps, enabled=config.progress
    ) as display:
        return _run_benchmark(config, console, display)


def _run_benchmark(config: BenchConfig, console, display: BenchProgress) -> dict[str, Any]:
    config.validate()
    specs = [zoo().models.get(name) for name in config.models]
    names = [spec.name for spec in specs]
    if len(set(names)) != len(names):
        raise UsageError(f"a model is named twice (aliases resolve to the same model): {', '.join(config.models)}.")
    zoo().feature_extractors.get(config.features)
    out = Path(config.out)
    if (out / "results.json").exists():
        raise UsageError(f"{out} already holds a benchmark (results.json); choose another --out.")
    name, split = split_source_name(config.dataset)
    if split is not None:
        raise UsageError("--dataset takes a dataset NAME; the bench trains on its train split and tests on test.")
    train_data = load_dataset(name, "train", DatasetOptions())
    test_data = load_dataset(name, "test", DatasetOptions())
    # Everything a user can get wrong fails here, before minutes of work and before --out is created.
    select_device(config.device)
    build_pipeline(config.augment)
    if config.train_subset is not None and config.train_subset > len(train_data):
        raise UsageError(f"--train-subset {config.train_subset}: {name}:train holds only {len(train_data)} images.")
    for spec in specs:
        hp = TrainConfig(model=spec.name, overrides=list(config.overrides)).hyperparameters(spec)
        hp = hyperparameters_for(spec, hp, train_data)
        G, D = spec.build(train_data.image_shape, hp)
        check_model_outputs(spec, G, D)
    out.mkdir(parents=True, exist_ok=True)
    say = display.routed(console.print) if console is not None else (lambda *a, **k: None)

    n_eval = min(config.n_eval, len(test_data), len(train_data))
    if n_eval < config.n_eval:
        say(f"Only {n_eval} images in a split: evaluating with {n_eval} samples instead of {config.n_eval}.")
    config = dataclasses.replace(config, n_eval=n_eval)
    # Random subsets: the first n digits of a split are not a fair sample of it.
    evaluator = FidEvaluator(
        random_subset(test_data.images, n_eval, 0, test_data.qualified_name),
        config.features,
        kid_subsets=KID_SUBSETS,
        cache=True,  # the test split's features, computed once per extractor and sample (reference_cache.py)
    )
    display.phase(f"real-data floor: FID of {n_eval} {name}:train against {name}:test images")
    floor = evaluator.evaluate(random_subset(train_data.images, n_eval, 1, train_data.qualified_name))
    say(f"Real-data floor ({name}:train vs {name}:test, {n_eval} images): FID {floor.fid:.2f}")
    small_sample = sample_size_note(evaluator.extractor_name, n_eval, measured_floor=floor.fid)

    models: list[dict[str, Any]] = []
    for spec in specs:
        seeds = []
        for seed in range(config.seeds):
            seeds.append(_train_one(spec.name, seed, config, train_data, evaluator, out, say, display))
        models.append(_summarise(spec.name, seeds))
        if spec.conditional:  # CAS and intra-FID beside FID (ganzoo.metrics.conditional)
            say(f"CAS and intra-FID of {spec.name} ...")
            models[-1].update(conditional.bench_scores([s.run_directory for s in seeds], train_data, test_data))
        _save_model_grid(seeds[0], out / f"samples_{spec.name}.png")

    results = {
        "format_version": 1,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "dataset": {
            "name": name,
            "train_fingerprint": train_data.fingerprint,
            "test_fingerprint": test_data.fingerprint,
            "license": train_data.license,
        },
        "reference_split": f"{name}:test",
        "training_split": f"{name}:train",
        "training_subset": config.train_subset,  # images of the train split each run trained on; None: all
        "augment": config.augment,
        "feature_extractor": {"name": evaluator.extractor_name, "sha256": evaluator.extractor_sha256},
        "reference_features_from_cache": evaluator.reference_cached,  # the test split's, extracted before
        "n_real": n_eval,
        "n_fake": n_eval,
        "sampling": "EMA generator in eval mode",
        "budget": {"steps": config.steps, "time_budget_seconds": None if config.steps else config.time_budget},
        "seeds": list(range(config.seeds)),
        "overrides": config.overrides,
        "floor": metric_summary.floor_metrics(floor),
        "notes": [small_sample] if small_sample else [],
        **(
            {"cas_ceiling": real_data_ceiling(train_data, test_data)}
            if any(spec.conditional for spec in specs)
            else {}
        ),
        "models": models,
        "versions": versions(),
        "machine": machine_description(),
        "device": str(select_device(config.device)),
    }
    (out / "results.json").write_text(json.dumps(results, indent=2))
    (out / "results.md").write_text(results_markdown(results))
    plot_fid_against_time(results, out / "fid_vs_time.png")
    write_report(results, out)
    return results


def _train_one(model, seed, config, train_data, evaluator, out, say, display) -> SeedResult:
    run_dir = out / "runs" / f"{model}-seed{seed}"
    callback = EvaluateDuringTraining(evaluator, config, seed)
    train_config = TrainConfig(
        model=model,
        dataset=train_data.qualified_name,
        steps=config.steps or 10**9,
        seed=seed,
        out=str(run_dir),
        overrides=list(config.overrides),
        augment=list(config.augment),
        device=config.device,
        sample_every=0,
        checkpoint_every=0,
        progress=False,
    )
    # A rerun of an interrupted bench into its --out replaces the runs it left (only ganzoo run directories).
    trainer = Trainer(
        train_config,
        callbacks=[callback, display.callback()],
        dataset=training_images(train_data, config.train_subset, seed),
        overwrite=True,
    )
    budget = f"{config.steps} steps" if config.steps else f"{config.time_budget:.0f} s"
    say(f"Training {model} (seed {seed}) for {budget} ...")
    display.start_run(model, seed)
    with restartable(out, model, seed):
        run = trainer.run()
    display.end_run()
    metrics = run.metrics()
    rates = [m["images_per_second"] for m in metrics]
    final = callback.evaluations[-1]
    say(
        f"  {model} seed {seed}: {run.step} steps in {trainer.train_seconds:.0f} s, FID {final.fid:.2f} "
        f"(evaluation took {callback.eval_seconds:.0f} s, not counted)"
    )
    return SeedResult(
        seed=seed,
        run_directory=str(run.directory),
        steps=run.step,
        train_seconds=trainer.train_seconds,
        images_per_second=statistics.median(rates) if rates else float("nan"),
        evaluations=callback.evaluations,
    )


def training_images(train_data: ImageDataset, n: int | None, seed: int) -> ImageDataset:
    """The train split, or ``n`` of its images drawn with ``seed`` (the same for every model of a seed)."""
    return train_data if n is None or n == len(train_data) else train_data.subset(n, seed)


def _summarise(model: str, seeds: list[SeedResult]) -> dict[str, Any]:
    finals = [s.final.fid for s in seeds]
    best = min((s.best for s in seeds), key=lambda e: e.fid)
    return {
        "model": model,
        "plugin": zoo().models.plugin_of(model),
        "steps": statistics.mean(s.steps for s in seeds),
        "train_seconds": statistics.mean(s.train_seconds for s in seeds),
        "images_per_second": statistics.mean(s.images_per_second for s in seeds),
        "fid_mean": statistics.mean(finals),
        "fid_std": metric_summary.fid_spread(finals),  # None from one seed: unknown, not zero
        "kid_mean": statistics.mean(s.final.kid for s in seeds),
        **metric_summary.seed_summary([s.final.metrics for s in seeds]),
        "best_fid": best.fid,
        "best_step": best.step,
        "seeds": [dataclasses.asdict(s) for s in seeds],
    }


def _save_model_grid(seed_result: SeedResult, path: Path) -> None:
    G = ckpt.load_generator(seed_result.run_directory)
    with torch.no_grad():
        images = sample_uint8(G, 64, generator=torch.Generator().manual_seed(0))
    save_grid(images, path, model=G.model_name, checkpoint_sha256=G.checkpoint_sha256)
