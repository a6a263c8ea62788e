"""The relativistic losses match Jolicoeur-Martineau 2018's formulas, and the training iteration gives the
generator's loss the real scores exactly when the loss asks for them; old two-method losses keep working."""

from __future__ import annotations

import pytest
import torch
from plugin_fixtures import ganzoo_fixture_tiny

import ganzoo
from ganzoo.engine.iteration import Iteration
from ganzoo.engine.networks import place_networks
from ganzoo.engine.placement import Placement
from ganzoo.losses import generator_loss

TINY = ganzoo_fixture_tiny.SPEC


def scores(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(16, generator=generator) * 3, torch.randn(16, generator=generator) * 3


def log_sigmoid(x: torch.Tensor) -> torch.Tensor:
    return torch.log(torch.sigmoid(x.double()))


@pytest.mark.parametrize("seed", [0, 1])
def test_rsgan_is_the_papers_formula(seed):
    loss = ganzoo.zoo().losses.get("relativistic")
    real, fake = scores(seed)
    # L_D = -E[log sigmoid(C(x_r) - C(x_f))], L_G = -E[log sigmoid(C(x_f) - C(x_r))], over paired samples.
    expected_d = -log_sigmoid(real - fake).mean()
    expected_g = -log_sigmoid(fake - real).mean()
    torch.testing.assert_close(loss.discriminator_loss(real, fake).double(), expected_d)
    torch.testing.assert_close(loss.generator_loss(fake, real).double(), expected_g)
    assert loss.needs_real_scores


@pytest.mark.parametrize("seed", [0, 1])
def test_ragan_is_the_papers_formula(seed):
    loss = ganzoo.zoo().losses.get("relativistic-average")
    real, fake = scores(seed)
    # L_D = -E_r[log D~(x_r)] - E_f[log(1 - D~(x_f))] with D~(x_r) = sigmoid(C(x_r) - E C(x_f)) and
    # D~(x_f) = sigmoid(C(x_f) - E C(x_r)); L_G swaps real and fake.
    real_tilde, fake_tilde = torch.sigmoid((real - fake.mean()).double()), torch.sigmoid((fake - real.mean()).double())
    expected_d = -torch.log(real_tilde).mean() - torch.log(1 - fake_tilde).mean()
    expected_g = -torch.log(fake_tilde).mean() - torch.log(1 - real_tilde).mean()
    torch.testing.assert_close(loss.discriminator_loss(real, fake).double(), expected_d)
    torch.testing.assert_close(loss.generator_loss(fake, real).double(), expected_g)
    assert loss.needs_real_scores


def test_ragan_generator_gradient_flows_through_both_terms():
    """G's RaGAN loss depends on the fake scores in both terms (through E C(x_f) in the second)."""
    loss = ganzoo.zoo().losses.get("relativistic-average")
    real, fake = scores(2)
    fake = fake.clone().requires_grad_(True)
    (gradient,) = torch.autograd.grad(loss.generator_loss(fake, real), fake)
    first_term_only = torch.autograd.grad(torch.nn.functional.softplus(real.mean() - fake).mean(), fake)[0]
    assert not torch.allclose(gradient, first_term_only)


class OldStyleLoss(ganzoo.Loss):
    """A third-party loss written against the two-method interface, before needs_real_scores existed."""

    name = "test-old-style"

    def __init__(self):
        self.generator_calls = 0

    def discriminator_loss(self, real_scores, fake_scores):
        return torch.nn.functional.softplus(-real_scores).mean() + torch.nn.functional.softplus(fake_scores).mean()

    def generator_loss(self, fake_scores):
        self.generator_calls += 1
        return torch.nn.functional.softplus(-fake_scores).mean()


class RecordingRelativisticLoss(ganzoo.Loss):
    name = "test-recording-relativistic"
    needs_real_scores = True

    def __init__(self):
        self.seen: list[tuple[torch.Tensor, torch.Tensor]] = []

    def discriminator_loss(self, real_scores, fake_scores):
        return torch.nn.functional.softplus(fake_scores - real_scores).mean()

    def generator_loss(self, fake_scores, real_scores):
        self.seen.append((fake_scores, real_scores))
        return torch.nn.functional.softplus(real_scores - fake_scores).mean()


def tiny_iteration(loss, critic_steps=1):
    torch.manual_seed(0)
    hp = TINY.defaults.replace(critic_steps=critic_steps)
    G, D = TINY.build((1, 28, 28), hp)
    placement = Placement(torch.device("cpu"))
    networks = place_networks(
        G, D, hp=hp, placement=placement, ema_decay=None, compile=False, has_penalty=False, sync_batchnorm=False
    )
    batches = [torch.rand(hp.batch_size, 1, 28, 28) * 2 - 1 for _ in range(critic_steps)]
    calls = []
    D.register_forward_hook(lambda module, inputs, output: calls.append(inputs[0]))
    feed = iter(batches)
    return Iteration(networks, loss, None, hp, placement, lambda: next(feed), 0), calls, batches, D


def test_an_old_style_loss_trains_and_costs_no_extra_discriminator_pass():
    loss = OldStyleLoss()
    iteration, calls, _, _ = tiny_iteration(loss, critic_steps=2)
    d_loss, g_loss = iteration(0)
    assert torch.isfinite(d_loss) and torch.isfinite(g_loss) and loss.generator_calls == 1
    assert len(calls) == 2 * 2 + 1  # real and fake per critic step, the fakes once in the generator step


def test_a_loss_that_needs_real_scores_gets_the_last_real_batch_scored_again():
    loss = RecordingRelativisticLoss()
    iteration, calls, batches, D = tiny_iteration(loss, critic_steps=2)
    iteration(0)
    assert len(calls) == 2 * 2 + 2  # one more D pass, on real images, in the generator step
    (fake_scores, real_scores), = loss.seen
    assert torch.equal(calls[-1], batches[-1])  # the last critic step's real batch ...
    with torch.no_grad():
        torch.testing.assert_close(real_scores, D(batches[-1]))  # ... scored by the updated D
    assert not real_scores.requires_grad and fake_scores.requires_grad  # constants for G; G learns via fakes


def test_generator_loss_helper_scores_real_images_only_when_asked():
    asked = []
    fake = torch.zeros(4)
    generator_loss(OldStyleLoss(), fake, lambda: asked.append(1) or fake)
    assert asked == []
    generator_loss(RecordingRelativisticLoss(), fake, lambda: asked.append(1) or fake)
    assert asked == [1]


@pytest.mark.parametrize("name", ["relativistic", "relativistic-average"])
def test_the_relativistic_losses_train_dcgan_in_the_kit(name):
    from ganzoo.testing import check_model, small_hyperparameters

    spec = ganzoo.get_model("dcgan")
    check_model(spec, [(1, 28, 28)], small_hyperparameters(spec).replace(loss=name))
