"""The augmentation-gain experiment: with only K real labeled images, does adding a conditional GAN's images
help the fixed classifier recipe (ganzoo.metrics.cas)? The GAN is trained on those same K images only, so no
information from the other real images leaks in; K is drawn anew for each seed."""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ganzoo.datasets.base import DatasetOptions, ImageDataset, load_dataset
from ganzoo.engine import Callback, TrainConfig, Trainer
from ganzoo.errors import UsageError
from ganzoo.metrics.cas import (
    DEFAULT_RECIPE,
    ClassifierRecipe,
    accuracy,
    check_held_out,
    generated_set,
    real_subset,
    train_classifier,
)
from ganzoo.registry import zoo

ARMS = ("real", "real+generated", "generated")  # what the classifier trains on


@dataclass
class AugmentationConfig:
    model: str = "cgan-pd"  # a class-conditional model
    dataset: str = "mnist-10k"  # K images are drawn from NAME:train; every classifier is tested on NAME:test
    real_images: int = 1000  # K
    generated_images: int = 10_000  # generated images added to the K real ones (balanced labels)
    seeds: int = 3  # independent draws of the K images, GAN trainings and classifier seeds
    time_budget: float = 240.0  # seconds of GAN training per seed (evaluation excluded)
    steps: int | None = None  # GAN steps per seed instead of the time budget
    out: Path = Path("augment-results")
    recipe: ClassifierRecipe = field(default_factory=lambda: DEFAULT_RECIPE)


class TimeBudget(Callback):
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def on_step(self, trainer: Trainer, step: int) -> None:
        if trainer.train_seconds >= self.seconds:
            trainer.stop()


def run_augmentation(config: AugmentationConfig, say: Callable[[str], Any] = print) -> dict[str, Any]:
    """Run every seed; write augmentation.json, augmentation.md and augmentation.png under ``config.out``."""
    spec = zoo().models.get(config.model)
    if not spec.conditional:
        raise UsageError(
            f"model {spec.name!r} is not class-conditional; the experiment needs one (e.g. cgan-pd)."
        )
    options = DatasetOptions(progress=False)
    train = load_dataset(f"{config.dataset}:train", options=options)
    test = load_dataset(f"{config.dataset}:test", options=options)
    if config.real_images > len(train):
        raise UsageError(
            f"--k {config.real_images} exceeds the {len(train)} images of {train.qualified_name}."
        )
    check_held_out(test, {train.fingerprint})
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    seeds = [_one_seed(spec.name, seed, config, train, test, out, say) for seed in range(config.seeds)]
    results = {
        "format_version": 1,
        "model": spec.name,
        "training_split": train.qualified_name,
        "test_split": test.qualified_name,
        "test_fingerprint": test.fingerprint,
        "real_images": config.real_images,
        "generated_images": config.generated_images,
        "budget": {
            "steps": config.steps,
            "time_budget_seconds": None if config.steps else config.time_budget,
        },
        "recipe": config.recipe.as_dict(),
        "seeds": seeds,
        "summary": {arm: _mean_and_error([s[arm] for s in seeds]) for arm in ARMS},
        # The paired difference per seed: the same K images with and without the generated ones.
        "gain": _mean_and_error([s["real+generated"] - s["real"] for s in seeds]),
    }
    (out / "augmentation.json").write_text(json.dumps(results, indent=2))
    (out / "augmentation.md").write_text(results_markdown(results))
    plot(results, out / "augmentation.png")
    return results


def _one_seed(model, seed, config, train, test, out, say) -> dict[str, Any]:
    images, labels = real_subset(train, config.real_images, seed)
    subset = ImageDataset(
        f"{train.name}-{config.real_images}-seed{seed}", "train", images, labels, train.license,
        num_classes=train.num_classes,
    )  # fmt: skip
    train_config = TrainConfig(
        model=model,
        dataset=subset.qualified_name,
        steps=config.steps or 10**9,
        seed=seed,
        out=str(out / "runs" / f"{model}-seed{seed}"),
        sample_every=0,
        checkpoint_every=0,
        progress=False,
    )
    callbacks = [] if config.steps else [TimeBudget(config.time_budget)]
    say(f"Seed {seed}: training {model} on {len(subset)} real images of {train.qualified_name} ...")
    trainer = Trainer(train_config, callbacks=callbacks, dataset=subset)
    run = trainer.run()
    generated, generated_labels = generated_set(trainer.sampling_generator(), config.generated_images, seed)
    classes = train.num_classes or 0
    sets = {
        "real": (images, labels),
        "real+generated": (torch.cat([images, generated]), torch.cat([labels, generated_labels])),
        "generated": (generated, generated_labels),
    }
    result: dict[str, Any] = {"seed": seed, "gan_steps": run.step, "gan_seconds": trainer.train_seconds}
    for arm, (arm_images, arm_labels) in sets.items():
        classifier = train_classifier(arm_images, arm_labels, classes, seed=seed, recipe=config.recipe)
        result[arm] = accuracy(classifier, test.images, test.labels)
    say(
        f"  seed {seed}: {run.step} GAN steps; accuracy real {100 * result['real']:.2f}%, "
        f"real+generated {100 * result['real+generated']:.2f}%, generated only {100 * result['generated']:.2f}%"
    )
    return result


def _mean_and_error(values: list[float]) -> dict[str, float]:
    error = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else float("nan")
    return {"mean": statistics.mean(values), "standard_error": error}


def results_markdown(results: dict[str, Any]) -> str:
    budget = results["budget"]
    trained = f"{budget['steps']} steps" if budget["steps"] else f"{budget['time_budget_seconds']:.0f} s"
    lines = [
        f"# Augmentation gain: {results['model']} with {results['real_images']} real images",
        "",
        f"Test accuracy on `{results['test_split']}` of the fixed classifier recipe ({results['recipe']}), "
        f"trained on K = {results['real_images']} real images of `{results['training_split']}` drawn per seed, "
        f"on them plus {results['generated_images']} images of {results['model']} trained on those K images only "
        f"({trained} per seed), and on the generated images alone. Mean ± standard error over "
        f"{len(results['seeds'])} seeds.",
        "",
        "| trained on | accuracy | " + " | ".join(f"seed {s['seed']}" for s in results["seeds"]) + " |",
        "|---|---|" + "---|" * len(results["seeds"]),
    ]
    for arm in ARMS:
        summary = results["summary"][arm]
        per_seed = " | ".join(f"{100 * s[arm]:.2f}" for s in results["seeds"])
        lines.append(
            f"| {arm} | {100 * summary['mean']:.2f} ± {100 * summary['standard_error']:.2f} % | {per_seed} |"
        )
    gain = results["gain"]
    lines += [
        "",
        f"Gain from the generated images (paired by seed): {100 * gain['mean']:+.2f} ± "
        f"{100 * gain['standard_error']:.2f} percentage points.",
        "",
    ]
    return "\n".join(lines)


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(5, 3.5))
    for position, arm in enumerate(ARMS):
        summary = results["summary"][arm]
        axes.bar(position, 100 * summary["mean"], yerr=100 * (summary["standard_error"] or 0), capsize=4)
        axes.scatter(
            [position] * len(results["seeds"]), [100 * s[arm] for s in results["seeds"]], color="k", s=8
        )
    axes.set_xticks(
        range(len(ARMS)), [f"{results['real_images']} real", "real + generated", "generated only"]
    )
    axes.set_ylabel(f"test accuracy on {results['test_split']} (%)")
    low = min(100 * s[arm] for s in results["seeds"] for arm in ARMS)
    axes.set_ylim(max(0, low - 5), 100)
    axes.set_title(f"{results['model']}: classifier trained on ...")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
