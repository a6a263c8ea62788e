"""One training iteration (all critic steps and one generator step) of each built-in model at batch 64
on 1x28x28: through the engine, as a plain PyTorch loop doing the same work, and the reference scripts'."""

from __future__ import annotations

import pytest
import torch

from benchmarks.conftest import rounds_for
from benchmarks.harness import BUILTIN_MODELS, dataset, measuring_trainer
from benchmarks.plain_loop import plain_loop_like
from benchmarks.reference_models import BASELINES


@pytest.fixture(scope="module", params=BUILTIN_MODELS)
def trainer_and_loop(request, tmp_path_factory):
    trainer = measuring_trainer(request.param, tmp_path_factory.mktemp(request.param))
    return trainer, plain_loop_like(trainer)


@pytest.mark.parametrize("kind", ["engine", "plain"])
def test_iteration(benchmark, trainer_and_loop, kind, record_median):
    """The engine's Trainer.train_step, then the plain loop's step on the same model, in adjacent runs."""
    trainer, loop = trainer_and_loop
    name = trainer.spec.name
    benchmark.group = "iteration-engine" if kind == "engine" else "iteration-plain-loop"
    benchmark.extra_info.update(
        model=name, batch_size=trainer.hp.batch_size, critic_steps=trainer.hp.critic_steps
    )
    step = trainer.train_step if kind == "engine" else loop.step
    d_loss, g_loss = benchmark.pedantic(step, rounds=rounds_for(name), warmup_rounds=2)
    assert torch.isfinite(d_loss) and torch.isfinite(g_loss)
    record_median(kind, name, benchmark)


@pytest.mark.parametrize("name", list(BASELINES))
@pytest.mark.benchmark(group="iteration-reference-scripts")
def test_reference_iteration(benchmark, name, record_median):
    baseline = BASELINES[name](dataset().images)
    benchmark.extra_info.update(model=name, family=baseline.family, batch_size=64)
    benchmark.pedantic(baseline.step, rounds=rounds_for(name), warmup_rounds=2)
    record_median("reference", name, benchmark)
    assert all(torch.isfinite(p).all() for p in baseline.G.parameters())
