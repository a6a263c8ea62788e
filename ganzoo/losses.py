"""Adversarial losses and discriminator penalties as small objects, chosen by name from a registry.

Scores are the discriminator's raw outputs, shape (N,): logits for the BCE losses, critic values for the
Wasserstein and hinge losses. Every method returns a scalar to minimise. A loss that compares real and fake
scores in the generator's objective too (the relativistic ones) says so with ``needs_real_scores``.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn


class Loss(abc.ABC):
    """An adversarial objective: what D minimises on real and fake scores, and what G minimises.

    The engine calls ``discriminator_loss(real_scores, fake_scores)`` once per critic step and
    ``generator_loss(fake_scores)`` once per generator step, on the scores of that step's batches. A loss
    whose class sets ``needs_real_scores = True`` is called as ``generator_loss(fake_scores, real_scores)``
    instead: the engine then scores a batch of real images with the same D in the generator step (without
    gradients; they are constants for G). Other losses pay nothing for it. The same loss object serves a
    whole run (and every model using it), so it should keep no state between calls.
    """

    name: ClassVar[str]
    summary: ClassVar[str] = ""
    needs_real_scores: ClassVar[bool] = False  # True: generator_loss also receives the real scores

    @abc.abstractmethod
    def discriminator_loss(self, real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor: ...

    @abc.abstractmethod
    def generator_loss(self, fake_scores: torch.Tensor, *args: torch.Tensor) -> torch.Tensor:
        """G's loss; ``(fake_scores)``, or ``(fake_scores, real_scores)`` when ``needs_real_scores``."""


def generator_loss(loss: Loss, fake_scores: torch.Tensor, real_scores: Callable[[], torch.Tensor]) -> torch.Tensor:
    """``loss.generator_loss`` called the way the loss asks: ``real_scores()`` is evaluated only when it
    declares ``needs_real_scores``, so that the engine and the conformance kit score real images only then."""
    if getattr(loss, "needs_real_scores", False):
        return loss.generator_loss(fake_scores, real_scores())
    return loss.generator_loss(fake_scores)


class Penalty(abc.ABC):
    """A regulariser on the discriminator, added to its loss times ``Hyperparameters.penalty_weight``."""

    name: ClassVar[str]
    summary: ClassVar[str] = ""

    @abc.abstractmethod
    def __call__(self, discriminator: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor: ...


class NonSaturatingLoss(Loss):
    name = "non-saturating"
    summary = "BCE; G maximises log D(G(z)) (Goodfellow et al. 2014, the practical variant)"

    def discriminator_loss(self, real_scores, fake_scores):
        return F.softplus(-real_scores).mean() + F.softplus(fake_scores).mean()

    def generator_loss(self, fake_scores):
        return F.softplus(-fake_scores).mean()


class MinimaxLoss(NonSaturatingLoss):
    name = "minimax"
    summary = "BCE; G minimises log(1 - D(G(z))) (the original minimax game; saturates early)"

    def generator_loss(self, fake_scores):
        return -F.softplus(fake_scores).mean()


class WassersteinLoss(Loss):
    name = "wasserstein"
    summary = "critic difference E[D(fake)] - E[D(real)] (Arjovsky et al. 2017)"

    def discriminator_loss(self, real_scores, fake_scores):
        return fake_scores.mean() - real_scores.mean()

    def generator_loss(self, fake_scores):
        return -fake_scores.mean()


class HingeLoss(Loss):
    name = "hinge"
    summary = "hinge loss on the critic (Lim & Ye 2017; Miyato et al. 2018)"

    def discriminator_loss(self, real_scores, fake_scores):
        return F.relu(1.0 - real_scores).mean() + F.relu(1.0 + fake_scores).mean()

    def generator_loss(self, fake_scores):
        return -fake_scores.mean()


class LeastSquaresLoss(Loss):
    name = "least-squares"
    summary = "least squares with targets 0/1 (Mao et al. 2017, LSGAN)"

    def discriminator_loss(self, real_scores, fake_scores):
        return 0.5 * ((real_scores - 1.0).square().mean() + fake_scores.square().mean())

    def generator_loss(self, fake_scores):
        return 0.5 * (fake_scores - 1.0).square().mean()


class RelativisticLoss(Loss):
    name = "relativistic"
    summary = "RSGAN: BCE on C(real) - C(fake) of paired samples (Jolicoeur-Martineau 2018)"
    needs_real_scores = True

    def discriminator_loss(self, real_scores, fake_scores):
        return F.softplus(fake_scores - real_scores).mean()  # -log sigmoid(C(x_r) - C(x_f))

    def generator_loss(self, fake_scores, real_scores):
        return F.softplus(real_scores - fake_scores).mean()  # -log sigmoid(C(x_f) - C(x_r))


class RelativisticAverageLoss(Loss):
    name = "relativistic-average"
    summary = "RaGAN: BCE on each score minus the other side's mean score (Jolicoeur-Martineau 2018)"
    needs_real_scores = True

    def discriminator_loss(self, real_scores, fake_scores):
        # -log sigmoid(C(x_r) - E C(x_f)) - log(1 - sigmoid(C(x_f) - E C(x_r)))
        return F.softplus(fake_scores.mean() - real_scores).mean() + F.softplus(fake_scores - real_scores.mean()).mean()

    def generator_loss(self, fake_scores, real_scores):
        # The same with the roles of real and fake swapped.
        return F.softplus(real_scores.mean() - fake_scores).mean() + F.softplus(real_scores - fake_scores.mean()).mean()


def _input_gradients(discriminator: nn.Module, images: torch.Tensor) -> torch.Tensor:
    images = images.detach().requires_grad_(True)
    scores = discriminator(images)
    (gradients,) = torch.autograd.grad(scores.sum(), images, create_graph=True)
    return gradients.flatten(1)


class GradientPenalty(Penalty):
    name = "gradient-penalty"
    summary = "(||grad D(x_hat)|| - 1)^2 on random interpolates of real and fake (Gulrajani et al. 2017)"

    def __call__(self, discriminator, real, fake):
        mix = torch.rand(real.shape[0], 1, 1, 1, device=real.device, dtype=real.dtype)
        interpolates = mix * real.detach() + (1.0 - mix) * fake.detach()
        norms = _input_gradients(discriminator, interpolates).norm(2, dim=1)
        return (norms - 1.0).square().mean()


class R1Penalty(Penalty):
    name = "r1"
    summary = "0.5 * ||grad D(x)||^2 on real images (Mescheder et al. 2018)"

    def __call__(self, discriminator, real, fake):
        return 0.5 * _input_gradients(discriminator, real).square().sum(dim=1).mean()


BUILTIN_LOSSES: tuple[Loss | Penalty, ...] = (
    NonSaturatingLoss(),
    MinimaxLoss(),
    WassersteinLoss(),
    HingeLoss(),
    LeastSquaresLoss(),
    RelativisticLoss(),
    RelativisticAverageLoss(),
    GradientPenalty(),
    R1Penalty(),
)
