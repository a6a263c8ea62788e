"""One training iteration, the only code on the hot path: the critic steps and one generator step, given
the networks, the loss, the penalty and the real batches. A conditional model (labels beside the images)
or an augmentation (applied to what D sees) changes this module and nothing else."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import torch

from ganzoo import losses
from ganzoo.conditioning import Conditioning
from ganzoo.engine import distributed
from ganzoo.engine.networks import Networks
from ganzoo.engine.placement import Placement
from ganzoo.losses import Loss, Penalty
from ganzoo.spec import Hyperparameters


class Iteration:
    """Call with the number of completed steps; returns (D loss, G loss) as device tensors, with no sync."""

    def __init__(
        self,
        networks: Networks,
        loss: Loss,
        penalty: Penalty | None,
        hp: Hyperparameters,
        placement: Placement,
        real_batches: Callable[[], torch.Tensor],
        seed: int,
        *,
        augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
        conditioning: Conditioning | None = None,
    ) -> None:
        self.networks, self.loss, self.penalty, self.hp = networks, loss, penalty, hp
        self.placement, self.real_batches, self.seed = placement, real_batches, seed
        # What D sees of a batch: DiffAugment's transforms (ganzoo.augment), drawn anew at each call, or as is.
        self.seen = augment or (lambda images: images)
        # Conditional models: real_batches returns (images, labels); fakes are drawn with the real labels.
        self.conditioning = conditioning

    def __call__(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        nets, hp, placement = self.networks, self.hp, self.placement
        G, D = nets.G_step, nets.D_step
        for critic_step in range(hp.critic_steps):
            real, labels = self.real_batches() if self.conditioning else (self.real_batches(), None)
            z = torch.randn(hp.batch_size, hp.latent_dim, device=placement.device)
            if placement.shard is not None:
                z = z[placement.shard]  # every rank draws the global batch's latents and keeps its share
            last = critic_step == hp.critic_steps - 1
            with placement.autocast(), self._rank_stream(step, critic_step):
                # The last critic step's fakes keep their graph and are reused for the generator step.
                with torch.no_grad() if not last else contextlib.nullcontext():
                    fake = G(z) if labels is None else G(z, labels)
                real_seen, fake_seen = self.seen(real), self.seen(fake.detach())
                real_scores, real_class_loss = self._discriminate(D, real_seen, labels)
                fake_scores, fake_class_loss = self._discriminate(D, fake_seen, labels)
                d_loss = self.loss.discriminator_loss(real_scores, fake_scores)
                if real_class_loss is not None:  # ACGAN: D learns the class of real and generated images
                    d_loss = d_loss + real_class_loss + fake_class_loss
                if self.penalty is not None:
                    critic = D if labels is None else self.conditioning.bound(D, labels)
                    d_loss = d_loss + hp.penalty_weight * self.penalty(critic, real_seen, fake_seen)
            nets.opt_D.zero_grad(set_to_none=True)
            d_loss.backward()
            nets.opt_D.step()
        with placement.autocast(), self._rank_stream(step, hp.critic_steps), self._discriminator_frozen():
            g_loss = self._generator_loss(fake, real, labels)
        nets.opt_G.zero_grad(set_to_none=True)
        g_loss.backward()
        nets.opt_G.step()
        return d_loss.detach(), g_loss.detach()

    def _discriminate(self, D, images: torch.Tensor, labels: torch.Tensor | None):
        """(D's scores, the auxiliary classifier's loss or None)."""
        if labels is None:
            return D(images), None
        return self.conditioning.discriminate(D, images, labels)

    def _generator_loss(self, fake: torch.Tensor, real: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """G's loss on D's scores of the fakes; a loss with ``needs_real_scores`` also gets the last critic
        step's real batch scored by the updated D, without a graph (the scores are constants for G)."""
        D = self.networks.D_in_generator_step
        fake_scores, class_loss = self._discriminate(D, self.seen(fake), labels)

        def real_scores() -> torch.Tensor:
            with torch.no_grad():
                return self._discriminate(D, self.seen(real), labels)[0]

        g_loss = losses.generator_loss(self.loss, fake_scores, real_scores)
        return g_loss if class_loss is None else g_loss + class_loss  # ACGAN: G makes images D classifies as labeled

    @contextlib.contextmanager
    def _discriminator_frozen(self) -> Iterator[None]:
        """For the generator step's forward: D's parameters out of the graph, so its backward skips D's weight
        gradients (1.05x dcgan, 1.03x vanilla; benchmarks/RESULTS.md, section 6) and D's .grad keeps the
        critic step's gradient, the one d_grad_norm reports."""
        trainable = [p for p in self.networks.D.parameters() if p.requires_grad]
        for parameter in trainable:
            parameter.requires_grad_(False)
        try:
            yield
        finally:
            for parameter in trainable:
                parameter.requires_grad_(True)

    def _rank_stream(self, step: int, phase: int) -> contextlib.AbstractContextManager:
        """Distributed: what G, D and the penalty draw inside comes from this rank's own stream."""
        if self.placement.shard is None:
            return contextlib.nullcontext()
        placement = self.placement
        return distributed.rank_random_stream(placement.device, self.seed, placement.rank, step, phase)
