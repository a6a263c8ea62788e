"""The benchmarks' yardsticks must measure what they claim: the plain loop does exactly the engine's work
(so engine / plain loop is the engine's overhead), in either precision the engine may pick."""

from __future__ import annotations

import pytest
import torch

from benchmarks.harness import BUILTIN_MODELS, measuring_trainer
from benchmarks.plain_loop import plain_loop_like


@pytest.mark.parametrize("amp", [False, True], ids=["fp32", "bf16-autocast"])
@pytest.mark.parametrize("model", BUILTIN_MODELS)
def test_plain_loop_does_the_engines_work(tmp_path, model, amp):
    """Same spec and seed give the same weights, and the same data order and random draws give
    bit-identical losses."""
    trainer = measuring_trainer(model, tmp_path, amp=amp, batch_size=8)
    loop = plain_loop_like(trainer)
    assert loop.amp == trainer.placement.amp == amp
    for ours, theirs in zip(trainer.D.state_dict().values(), loop.D.state_dict().values(), strict=True):
        assert torch.equal(ours, theirs)
    state = torch.get_rng_state()
    engine_losses = [trainer.train_step() for _ in range(2)]
    torch.set_rng_state(state)
    loop_losses = [loop.step() for _ in range(2)]
    for (d_engine, g_engine), (d_loop, g_loop) in zip(engine_losses, loop_losses, strict=True):
        assert torch.equal(d_engine, d_loop) and torch.equal(g_engine, g_loop)
    assert all(torch.equal(a, b) for a, b in zip(trainer.G.parameters(), loop.G.parameters(), strict=True))
    # D's gradients too: the plain loop freezes D in the generator step as the engine does.
    assert all(torch.equal(a.grad, b.grad) for a, b in zip(trainer.D.parameters(), loop.D.parameters(), strict=True))


def test_plain_loop_breaks_when_the_work_differs(tmp_path):
    """The comparison above can fail: a loop in the other precision gives different losses."""
    trainer = measuring_trainer("dcgan", tmp_path, amp=True, batch_size=8)
    loop = plain_loop_like(trainer)
    loop.amp = False
    state = torch.get_rng_state()
    d_engine, _ = trainer.train_step()
    torch.set_rng_state(state)
    d_loop, _ = loop.step()
    assert not torch.equal(d_engine, d_loop)


def test_a_loop_that_computes_ds_gradient_in_the_generator_step_is_told_apart(tmp_path):
    """Without the frozen D, the losses agree but D's gradients after a step do not."""
    trainer = measuring_trainer("dcgan", tmp_path, amp=False, batch_size=8)
    loop = plain_loop_like(trainer)
    loop.frozen_discriminator = False
    state = torch.get_rng_state()
    engine_losses = trainer.train_step()
    torch.set_rng_state(state)
    loop_losses = loop.step()
    assert all(torch.equal(a, b) for a, b in zip(engine_losses, loop_losses, strict=True))
    assert not all(torch.equal(a.grad, b.grad) for a, b in zip(trainer.D.parameters(), loop.D.parameters()))
