"""The reference baselines: the settings of eriklindernoren's PyTorch-GAN scripts gan.py, dcgan.py and
wgan_gp.py (networks, initialisation, losses, optimizers and the order of updates), in a few lines each.

Each baseline takes the training images as uint8 (N, 1, 28, 28) and converts them once, as the scripts'
transforms do per batch (ToTensor, Normalize(0.5, 0.5), and Resize(32) for dcgan.py); reading from a
ready tensor instead of a DataLoader makes the baselines faster than the scripts, never slower.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

LATENT_DIM = 100  # all three scripts
BATCH_SIZE = 64
ADAM = {"lr": 2e-4, "betas": (0.5, 0.999)}  # all three scripts' defaults


def mlp_generator(image_shape: tuple[int, int, int]) -> nn.Module:
    """gan.py and wgan_gp.py: 100 -> 128 -> 256 -> 512 -> 1024 -> C*H*W, BatchNorm1d with eps 0.8."""

    def block(inputs: int, outputs: int, normalize: bool = True) -> list[nn.Module]:
        layers: list[nn.Module] = [nn.Linear(inputs, outputs)]
        if normalize:
            layers.append(nn.BatchNorm1d(outputs, 0.8))  # the scripts pass 0.8 as eps (positionally)
        return layers + [nn.LeakyReLU(0.2, inplace=True)]

    return nn.Sequential(
        *block(LATENT_DIM, 128, normalize=False),
        *block(128, 256),
        *block(256, 512),
        *block(512, 1024),
        nn.Linear(1024, math.prod(image_shape)),
        nn.Tanh(),
        nn.Unflatten(1, image_shape),
    )


def mlp_discriminator(image_shape: tuple[int, int, int], sigmoid: bool) -> nn.Module:
    """gan.py (with a sigmoid, for BCELoss) and wgan_gp.py (a critic: no sigmoid): C*H*W -> 512 -> 256 -> 1."""
    layers: list[nn.Module] = [
        nn.Flatten(),
        nn.Linear(math.prod(image_shape), 512),
        nn.LeakyReLU(0.2, inplace=True),
        nn.Linear(512, 256),
        nn.LeakyReLU(0.2, inplace=True),
        nn.Linear(256, 1),
    ]
    return nn.Sequential(*layers, nn.Sigmoid()) if sigmoid else nn.Sequential(*layers)


class DcganGenerator(nn.Module):
    """dcgan.py: Linear(100 -> 128*8*8), then upsample + 3x3 convs 128 -> 128 -> 64 -> C, tanh; 32x32."""

    def __init__(self, channels: int = 1, size: int = 32) -> None:
        super().__init__()
        self.base = size // 4
        self.project = nn.Linear(LATENT_DIM, 128 * self.base**2)
        self.convolutions = nn.Sequential(
            nn.BatchNorm2d(128),
            nn.Upsample(scale_factor=2),
            nn.Conv2d(128, 128, 3, stride=1, padding=1),
            nn.BatchNorm2d(128, 0.8),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Upsample(scale_factor=2),
            nn.Conv2d(128, 64, 3, stride=1, padding=1),
            nn.BatchNorm2d(64, 0.8),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(64, channels, 3, stride=1, padding=1),
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.convolutions(self.project(z).view(z.shape[0], 128, self.base, self.base))


def dcgan_discriminator(channels: int = 1, size: int = 32) -> nn.Module:
    """dcgan.py: four stride-2 3x3 convs 16 -> 32 -> 64 -> 128, each LeakyReLU, Dropout2d(0.25) and
    BatchNorm2d(eps 0.8) except the first; then Linear -> sigmoid."""
    layers: list[nn.Module] = []
    inputs = channels
    for outputs, normalize in ((16, False), (32, True), (64, True), (128, True)):
        layers += [nn.Conv2d(inputs, outputs, 3, 2, 1), nn.LeakyReLU(0.2, inplace=True), nn.Dropout2d(0.25)]
        if normalize:
            layers.append(nn.BatchNorm2d(outputs, 0.8))
        inputs = outputs
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(128 * (size // 16) ** 2, 1), nn.Sigmoid())


def dcgan_init(module: nn.Module) -> None:
    """dcgan.py's weights_init_normal: conv weights N(0, 0.02), batch-norm scales N(1, 0.02), shifts 0."""
    if isinstance(module, nn.Conv2d):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class Baseline:
    """A reference script's networks, optimizers and data; :meth:`step` is one of its iterations."""

    name: str
    family: str  # the built-in model of the same family, compared in time to quality
    image_size: int = 28

    def __init__(self, images: torch.Tensor, seed: int = 0, device: str = "cpu") -> None:
        torch.manual_seed(seed)
        self.device = torch.device(device)
        self.G, self.D = self.build()
        self.G.to(self.device).train()
        self.D.to(self.device).train()
        self.opt_G = torch.optim.Adam(self.G.parameters(), **ADAM)
        self.opt_D = torch.optim.Adam(self.D.parameters(), **ADAM)
        self.images = self.prepare(images).to(self.device)
        self.order = torch.Generator().manual_seed(seed + 1)  # shuffle=True: a permutation per epoch
        self.permutation = torch.randperm(len(self.images), generator=self.order)
        self.position = 0

    def build(self) -> tuple[nn.Module, nn.Module]:
        raise NotImplementedError

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 -> float in [-1, 1] at the script's image size (ToTensor, Normalize([0.5], [0.5]), Resize)."""
        x = images.float() / 255.0
        if x.shape[-1] != self.image_size:
            x = F.interpolate(x, size=(self.image_size, self.image_size), mode="bilinear", antialias=True)
        return (x - 0.5) / 0.5

    def real_batch(self) -> torch.Tensor:
        if self.position + BATCH_SIZE > len(self.images):
            self.permutation, self.position = torch.randperm(len(self.images), generator=self.order), 0
        indices = self.permutation[self.position : self.position + BATCH_SIZE].to(self.device)
        self.position += BATCH_SIZE
        return self.images[indices]

    def latent(self) -> torch.Tensor:
        return torch.randn(BATCH_SIZE, LATENT_DIM, device=self.device)

    def step(self) -> None:
        raise NotImplementedError

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` images in [-1, 1] as the scripts draw them: G in training mode, batches of 64."""
        batches = []
        for start in range(0, n, BATCH_SIZE):
            z = torch.randn(min(BATCH_SIZE, n - start), LATENT_DIM, generator=generator).to(self.device)
            batches.append(self.G(z))
        return torch.cat(batches)


class BceBaseline(Baseline):
    """gan.py and dcgan.py share their loop: a generator step on fresh fakes, then a discriminator step
    on real images and the same fakes detached, both with BCELoss on sigmoid outputs."""

    adversarial_loss = nn.BCELoss()

    def step(self) -> None:
        real = self.real_batch()
        valid = torch.ones(BATCH_SIZE, 1, device=self.device)
        fake_label = torch.zeros(BATCH_SIZE, 1, device=self.device)
        self.opt_G.zero_grad()
        fakes = self.G(self.latent())
        g_loss = self.adversarial_loss(self.D(fakes), valid)
        g_loss.backward()
        self.opt_G.step()
        self.opt_D.zero_grad()
        real_loss = self.adversarial_loss(self.D(real), valid)
        fake_loss = self.adversarial_loss(self.D(fakes.detach()), fake_label)
        d_loss = (real_loss + fake_loss) / 2
        d_loss.backward()
        self.opt_D.step()


class GanPy(BceBaseline):
    name, family = "gan.py", "vanilla"

    def build(self):
        return mlp_generator((1, 28, 28)), mlp_discriminator((1, 28, 28), sigmoid=True)


class DcganPy(BceBaseline):
    name, family, image_size = "dcgan.py", "dcgan", 32

    def build(self):
        G, D = DcganGenerator(), dcgan_discriminator()
        G.apply(dcgan_init)
        D.apply(dcgan_init)
        return G, D


class WganGpPy(Baseline):
    """wgan_gp.py: the gan.py MLP pair with a critic (no sigmoid), lambda 10, a generator step every 5
    critic steps. As in the script, the critic's fakes are not detached, so its backward pass also runs
    through G (those gradients are zeroed before the generator step)."""

    name, family = "wgan_gp.py", "wgan-gp"
    critic_steps = 5
    penalty_weight = 10.0

    def build(self):
        return mlp_generator((1, 28, 28)), mlp_discriminator((1, 28, 28), sigmoid=False)

    def gradient_penalty(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        alpha = torch.rand(real.shape[0], 1, 1, 1, device=self.device)
        interpolates = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
        scores = self.D(interpolates)
        (gradients,) = torch.autograd.grad(
            scores, interpolates, grad_outputs=torch.ones_like(scores), create_graph=True, retain_graph=True
        )
        return ((gradients.view(gradients.shape[0], -1).norm(2, dim=1) - 1) ** 2).mean()

    def step(self) -> None:
        """Five critic steps; the generator step follows the first, as ``i % n_critic == 0`` does."""
        for critic_step in range(self.critic_steps):
            real = self.real_batch()
            self.opt_D.zero_grad()
            z = self.latent()
            fakes = self.G(z)
            penalty = self.gradient_penalty(real.data, fakes.data)
            d_loss = -self.D(real).mean() + self.D(fakes).mean() + self.penalty_weight * penalty
            d_loss.backward()
            self.opt_D.step()
            self.opt_G.zero_grad()
            if critic_step == 0:
                g_loss = -self.D(self.G(z)).mean()
                g_loss.backward()
                self.opt_G.step()


# -- strong peers: what a PyTorch user writes in an afternoon at 28x28, fp32, nothing tuned for the CPU ----
def peer_generator() -> nn.Module:
    """Linear to 128x7x7, then transposed convolutions 128 -> 64 -> 1 with batch norm and ReLU, tanh."""
    return nn.Sequential(
        nn.Linear(LATENT_DIM, 128 * 7 * 7),
        nn.Unflatten(1, (128, 7, 7)),
        nn.BatchNorm2d(128),
        nn.ReLU(inplace=True),
        nn.ConvTranspose2d(128, 64, 4, 2, 1),
        nn.BatchNorm2d(64),
        nn.ReLU(inplace=True),
        nn.ConvTranspose2d(64, 1, 4, 2, 1),
        nn.Tanh(),
    )


def peer_discriminator(batch_norm: bool = True) -> nn.Module:
    """Convolutions 1 -> 64 -> 128 (stride 2, LeakyReLU 0.2, batch norm on the second) and a linear head."""
    middle = [nn.BatchNorm2d(128)] if batch_norm else []
    return nn.Sequential(
        nn.Conv2d(1, 64, 4, 2, 1),
        nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(64, 128, 4, 2, 1),
        *middle,
        nn.LeakyReLU(0.2, inplace=True),
        nn.Flatten(),
        nn.Linear(128 * 7 * 7, 1),
    )


class PeerLoop(Baseline):
    """The textbook order: a D step on a real batch and fresh fakes (BCE with logits), then a G step
    (non-saturating) through the same fakes."""

    def step(self) -> None:
        real, fakes = self.real_batch(), self.G(self.latent())
        ones, zeros = torch.ones(BATCH_SIZE, device=self.device), torch.zeros(BATCH_SIZE, device=self.device)
        self.opt_D.zero_grad()
        d_loss = F.binary_cross_entropy_with_logits(
            self.D(real).squeeze(1), ones
        ) + F.binary_cross_entropy_with_logits(self.D(fakes.detach()).squeeze(1), zeros)
        d_loss.backward()
        self.opt_D.step()
        self.opt_G.zero_grad()
        F.binary_cross_entropy_with_logits(self.D(fakes).squeeze(1), ones).backward()
        self.opt_G.step()


class PeerMlp(PeerLoop):
    """An MLP GAN: G 100 -> 256 -> 512 -> 1024 -> 784 (ReLU, tanh), D 784 -> 512 -> 256 -> 1 (LeakyReLU)."""

    name, family = "peer-mlp", "vanilla"

    def build(self):
        G = nn.Sequential(
            nn.Linear(LATENT_DIM, 256), nn.ReLU(), nn.Linear(256, 512), nn.ReLU(),
            nn.Linear(512, 1024), nn.ReLU(), nn.Linear(1024, 784), nn.Tanh(), nn.Unflatten(1, (1, 28, 28)),
        )  # fmt: skip
        D = mlp_discriminator((1, 28, 28), sigmoid=False)
        return G, D


class PeerDcgan(PeerLoop):
    """The 28x28 DCGAN of issue 19: Adam 2e-4 (0.5, 0.999), batch 64."""

    name, family = "peer-dcgan", "dcgan"

    def build(self):
        return peer_generator(), peer_discriminator()


class PeerWganGp(WganGpPy):
    """WGAN-GP as the paper sets it (lambda 10, 5 critic steps, Adam 1e-4 (0.5, 0.9)) on the peer DCGAN
    pair, the critic without batch norm; the critic's fakes detached, the generator step after them."""

    name, family = "peer-wgan-gp", "wgan-gp"

    def __init__(self, images: torch.Tensor, seed: int = 0, device: str = "cpu") -> None:
        super().__init__(images, seed, device)
        self.opt_G = torch.optim.Adam(self.G.parameters(), lr=1e-4, betas=(0.5, 0.9))
        self.opt_D = torch.optim.Adam(self.D.parameters(), lr=1e-4, betas=(0.5, 0.9))

    def build(self):
        return peer_generator(), peer_discriminator(batch_norm=False)

    def step(self) -> None:
        for _ in range(self.critic_steps):
            real = self.real_batch()
            with torch.no_grad():
                fakes = self.G(self.latent())
            self.opt_D.zero_grad()
            penalty = self.gradient_penalty(real, fakes)
            d_loss = self.D(fakes).mean() - self.D(real).mean() + self.penalty_weight * penalty
            d_loss.backward()
            self.opt_D.step()
        self.opt_G.zero_grad()
        (-self.D(self.G(self.latent())).mean()).backward()
        self.opt_G.step()


BASELINES: dict[str, Callable[..., Baseline]] = {
    cls.name: cls for cls in (GanPy, DcganPy, WganGpPy, PeerMlp, PeerDcgan, PeerWganGp)
}
