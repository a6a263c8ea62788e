"""The engine's training iteration written as a plain PyTorch loop: the networks built from the same spec
and seed, the same Adam settings, the same loss objects and the same uint8 image tensor. The engine's
overhead is its iteration time divided by this one's."""

from __future__ import annotations

import contextlib

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
        amp: bool = False,  # bf16 autocast around the forward passes, as TrainConfig.amp
        channels_last: bool = False,
        frozen_discriminator: bool = False,  # D's parameters frozen in the generator step, as the engine does
    ) -> None:
        torch.manual_seed(seed)  # the engine seeds the same way before building, so the weights are equal
        self.G, self.D = spec.build(tuple(images.shape[1:]), hp)
        self.G.to(device).train()
        self.D.to(device).train()
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        if channels_last:
            self.G.to(memory_format=torch.channels_last)
            self.D.to(memory_format=torch.channels_last)
        self.amp, self.frozen_discriminator = amp, frozen_discriminator
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
        self.G_call, self.D_call = self.G, self.D  # what the step calls (a variant may compile them)

    def real_batch(self) -> torch.Tensor:
        size = self.hp.batch_size
        if self.position + size > len(self.images):
            self.permutation = torch.randperm(len(self.images), generator=self.order).to(self.device)
            self.position = 0
        indices = self.permutation[self.position : self.position + size]
        self.position += size
        batch = self.images[indices]
        if batch.dtype == torch.uint8:  # the engine's dataset (a variant may convert it to floats once)
            batch = batch.float().mul_(2.0 / 255.0).sub_(1.0)
        return batch.contiguous(memory_format=self.memory_format)

    def autocast(self):
        if self.amp:
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    @contextlib.contextmanager
    def discriminator_frozen(self):
        """Around the generator step's forward: its backward then skips D's weight gradients."""
        if not self.frozen_discriminator:
            yield
            return
        self.D.requires_grad_(False)
        try:
            yield
        finally:
            self.D.requires_grad_(True)

    def discriminate(self, real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.D_call(real), self.D_call(fake)

    def step(self) -> tuple[torch.Tensor, torch.Tensor]:
        hp, G, D = self.hp, self.G_call, self.D_call
        for critic_step in range(hp.critic_steps):
            real = self.real_batch()
            z = torch.randn(hp.batch_size, hp.latent_dim, device=self.device)
            with self.autocast():
                if critic_step < hp.critic_steps - 1:
                    with torch.no_grad():
                        fake = G(z)
                else:
                    fake = G(z)  # kept with its graph for the generator step, as the engine does
                d_loss = self.loss.discriminator_loss(*self.discriminate(real, fake.detach()))
                if self.penalty is not None:
                    d_loss = d_loss + hp.penalty_weight * self.penalty(D, real, fake.detach())
            self.opt_D.zero_grad(set_to_none=True)
            d_loss.backward()
            self.opt_D.step()
        with self.autocast(), self.discriminator_frozen():
            g_loss = self.loss.generator_loss(D(fake))
        self.opt_G.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_G.step()
        return d_loss.detach(), g_loss.detach()


def plain_loop_like(trainer) -> PlainLoop:
    """A PlainLoop doing exactly the work of ``trainer.train_step``: same spec, hyperparameters, data, seed
    and device, and the engine's choices of fused Adam, bf16 autocast, memory format and a frozen D in the
    generator step."""
    return PlainLoop(
        trainer.spec,
        trainer.hp,
        trainer.real_batches.images,
        trainer.config.seed,
        str(trainer.device),
        adam={"fused": bool(trainer.networks.opt_G.defaults.get("fused"))},
        amp=trainer.placement.amp,
        channels_last=trainer.placement.memory_format == torch.channels_last,
        frozen_discriminator=True,
    )
