"""The engine's training iteration written as a plain PyTorch loop: the networks built from the same spec
and seed, the same Adam settings, the same loss objects and the same uint8 image tensor. The engine's
overhead is its iteration time divided by this one's."""

from __future__ import annotations

import torch

from ganzoo.registry import zoo
from ganzoo.spec import Hyperparameters, ModelSpec


class PlainLoop:
    """One iteration = ``critic_steps`` discriminator steps and one generator step, as Trainer.train_step."""

    def __init__(
        self,
        spec: ModelSpec,
        hp: Hyperparameters,
        images: torch.Tensor,
        seed: int = 0,
        device: str = "cpu",
        adam: dict | None = None,  # extra torch.optim.Adam arguments, e.g. {"fused": True}
    ) -> None:
        torch.manual_seed(seed)  # the engine seeds the same way before building, so the weights are equal
        self.G, self.D = spec.build(tuple(images.shape[1:]), hp)
        self.G.to(device).train()
        self.D.to(device).train()
        self.hp, self.device = hp, torch.device(device)
        self.images = images.to(device)
        self.loss = zoo().losses.get(hp.loss)
        self.penalty = zoo().penalties.get(hp.penalty) if hp.penalty else None
        adam = adam or {}
        self.opt_G = torch.optim.Adam(
            self.G.parameters(), lr=hp.generator_lr, betas=hp.generator_betas, **adam
        )
        self.opt_D = torch.optim.Adam(
            self.D.parameters(), lr=hp.discriminator_lr, betas=hp.discriminator_betas, **adam
        )
        # The engine's data order: a permutation per epoch from a generator seeded with seed + 1.
        self.order = torch.Generator().manual_seed(seed + 1)
        self.permutation = torch.randperm(len(images), generator=self.order).to(device)
        self.position = 0

    def real_batch(self) -> torch.Tensor:
        size = self.hp.batch_size
        if self.position + size > len(self.images):
            self.permutation = torch.randperm(len(self.images), generator=self.order).to(self.device)
            self.position = 0
        indices = self.permutation[self.position : self.position + size]
        self.position += size
        return self.images[indices].float().mul_(2.0 / 255.0).sub_(1.0)

    def step(self) -> tuple[torch.Tensor, torch.Tensor]:
        hp, G, D = self.hp, self.G, self.D
        for critic_step in range(hp.critic_steps):
            real = self.real_batch()
            z = torch.randn(hp.batch_size, hp.latent_dim, device=self.device)
            if critic_step < hp.critic_steps - 1:
                with torch.no_grad():
                    fake = G(z)
            else:
                fake = G(z)  # kept with its graph for the generator step, as the engine does
            d_loss = self.loss.discriminator_loss(D(real), D(fake.detach()))
            if self.penalty is not None:
                d_loss = d_loss + hp.penalty_weight * self.penalty(D, real, fake.detach())
            self.opt_D.zero_grad(set_to_none=True)
            d_loss.backward()
            self.opt_D.step()
        g_loss = self.loss.generator_loss(D(fake))
        self.opt_G.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_G.step()
        return d_loss.detach(), g_loss.detach()


def plain_loop_like(trainer) -> PlainLoop:
    """A PlainLoop doing exactly the work of ``trainer.train_step`` (same spec, hyperparameters, data, seed,
    device, and the fused Adam the engine picks on CUDA)."""
    adam = {"fused": True} if trainer.device.type == "cuda" else None
    return PlainLoop(trainer.spec, trainer.hp, trainer.images, trainer.config.seed, str(trainer.device), adam)
