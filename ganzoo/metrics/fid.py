"""FID and KID between two sets of uint8 images, computed by torchmetrics on features extracted once per set.

torchmetrics is imported only when a score is computed, so commands that merely list things start fast.
Features are extracted in float32 by a registered extractor; torchmetrics receives them through a
pass-through module that casts to float64, so its statistics (means, covariances, the matrix square root)
are float64 without converting the extractor. :class:`FidEvaluator` keeps the real set's statistics, so
many generator snapshots are scored against one reference without extracting it again.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganzoo.datasets.base import to_uint8
from ganzoo.errors import GanzooError, UsageError
from ganzoo.interfaces import Generator
from ganzoo.metrics.extractors import build_feature_extractor

DEFAULT_EXTRACTOR = "lenet-mnist"
DEFAULT_BATCH_SIZE = 250  # images per extractor call: bounded memory, near-full CPU throughput
DEFAULT_KID_SUBSETS = 100  # torch-fidelity's and torchmetrics' defaults
DEFAULT_KID_SUBSET_SIZE = 1000
MIN_IMAGES = 2  # a covariance (FID) and an unbiased MMD estimate (KID) need two samples per set


@dataclass(frozen=True)
class FidResult:
    """FID and KID of one fake set against one real set, with what it takes to compare it with others."""

    fid: float
    kid_mean: float | None  # None when KID was not asked for (kid_subsets=0)
    kid_std: float | None  # over KID's random subsets
    n_real: int
    n_fake: int
    extractor: str  # canonical registry name
    extractor_sha256: str | None  # "sha256:..." of the extractor's weights, when it has a file
    num_features: int
    kid_subsets: int  # 0: KID was skipped
    kid_subset_size: int  # may be smaller than asked when a set is smaller (see notes)
    notes: tuple[str, ...] = field(default=())  # caveats a reader of the score should see

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["notes"] = list(self.notes)
        return data


class FeaturePassThrough(nn.Module):
    """Hands already extracted features to torchmetrics as float64, so its statistics are float64."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = num_features  # torchmetrics reads it instead of running a dummy image

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features.to(torch.float64)


def check_images(images: torch.Tensor, what: str) -> None:
    if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8 or images.ndim != 4:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        dtype = images.dtype if isinstance(images, torch.Tensor) else ""
        raise UsageError(f"{what} must be uint8 images (N, C, H, W); got {dtype} {shape}.")
    if len(images) < MIN_IMAGES:
        raise UsageError(f"FID and KID need at least {MIN_IMAGES} {what}; got {len(images)}.")


@torch.inference_mode()
def extract_features(
    extractor: nn.Module, images: torch.Tensor, batch_size: int = DEFAULT_BATCH_SIZE
) -> torch.Tensor:
    """float32 features (N, D) on the CPU, from uint8 images fed to ``extractor`` in batches on its device."""
    if batch_size < 1:
        raise UsageError(f"the batch size must be positive; got {batch_size}.")
    batch_size = min(batch_size, getattr(extractor, "max_batch_size", batch_size))
    parameter = next(extractor.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    batches = []
    for start in range(0, len(images), batch_size):
        features = extractor(images[start : start + batch_size].to(device))
        batches.append(features.reshape(features.shape[0], -1).to("cpu", torch.float32))
    features = torch.cat(batches)
    if not torch.isfinite(features).all():
        raise GanzooError("the feature extractor returned non-finite features (NaN or infinity).")
    return features


def finite_scalar(value: torch.Tensor, what: str) -> float:
    """``value`` as a float; a clear error instead of a complex, NaN or infinite score."""
    if torch.is_complex(value):
        if value.imag.abs() > 1e-6 * max(1.0, float(value.real.abs())):
            raise GanzooError(
                f"{what} came out complex ({complex(value)}); the covariances are ill-conditioned."
            )
        value = value.real
    number = float(value)
    if not math.isfinite(number):
        raise GanzooError(
            f"{what} is not finite ({number}); the features or their covariances are degenerate."
        )
    return number


class FidEvaluator:
    """Scores image sets against one real set whose features and FID statistics are computed once.

    ``FidEvaluator(real_images, "lenet-mnist").evaluate(fake_images)`` -> :class:`FidResult`. KID costs
    far more than FID at 10,000 images (``kid_subsets`` kernel matrices of ``kid_subset_size`` squared);
    ``kid_subsets=0`` skips it.
    """

    def __init__(
        self,
        real_images: torch.Tensor,
        extractor: str = DEFAULT_EXTRACTOR,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        kid_subsets: int = DEFAULT_KID_SUBSETS,
        kid_subset_size: int = DEFAULT_KID_SUBSET_SIZE,
        weights: str | Path | None = None,
        device: str | torch.device = "cpu",
        seed: int = 0,
    ) -> None:
        check_images(real_images, "real images")
        if kid_subsets < 0 or (kid_subsets > 0 and kid_subset_size < MIN_IMAGES):
            raise UsageError(
                f"KID takes subsets of at least {MIN_IMAGES} images (or 0 subsets to skip KID); "
                f"got {kid_subsets} subsets of {kid_subset_size}."
            )
        self.extractor_name, self.extractor = build_feature_extractor(extractor, weights)
        self.extractor.to(device)
        self.extractor_sha256: str | None = getattr(self.extractor, "weights_sha256", None)
        self.batch_size = batch_size
        self.kid_subsets = kid_subsets
        self.kid_subset_size = kid_subset_size
        self.seed = seed
        start = time.perf_counter()
        self.real_features = extract_features(self.extractor, real_images, batch_size)
        # Wall-clock seconds of the last steps, for benchmarks of the metric itself.
        self.last_seconds: dict[str, float] = {"real_extraction": time.perf_counter() - start}
        self.num_features = int(self.real_features.shape[1])
        from torchmetrics.image.fid import FrechetInceptionDistance  # here: it pulls in scipy (CLI start-up)

        self._fid = FrechetInceptionDistance(
            feature=FeaturePassThrough(self.num_features), reset_real_features=False
        )
        self._fid.update(self.real_features, real=True)

    @property
    def n_real(self) -> int:
        return int(self.real_features.shape[0])

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """The extractor's float32 features of uint8 ``images``."""
        return extract_features(self.extractor, images, self.batch_size)

    def evaluate(self, fake_images: torch.Tensor) -> FidResult:
        """FID and KID of uint8 ``fake_images`` against the real set."""
        check_images(fake_images, "generated images")
        start = time.perf_counter()
        features = self.features(fake_images)
        extraction_seconds = time.perf_counter() - start
        result = self.evaluate_features(features)
        self.last_seconds["extraction"] = extraction_seconds
        return result

    def evaluate_features(self, fake_features: torch.Tensor) -> FidResult:
        """FID and KID of already extracted features (N, D) against the real set."""
        n_fake = int(fake_features.shape[0])
        if n_fake < MIN_IMAGES:
            raise UsageError(f"FID and KID need at least {MIN_IMAGES} generated images; got {n_fake}.")
        if fake_features.shape[1:] != (self.num_features,):
            raise UsageError(
                f"the features have shape {tuple(fake_features.shape)}; this evaluator's have {self.num_features}."
            )
        notes = []
        subset_size = min(self.kid_subset_size, self.n_real, n_fake) if self.kid_subsets else 0
        if self.kid_subsets and subset_size < self.kid_subset_size:
            notes.append(
                f"KID subsets shrunk from {self.kid_subset_size} to {subset_size} images (the smaller set's size)."
            )
        if min(self.n_real, n_fake) <= self.num_features:
            notes.append(
                f"fewer images than features ({self.num_features}): the covariances are singular and FID is "
                "strongly biased upwards; compare only scores with equal sample counts."
            )
        start = time.perf_counter()
        self._fid.reset()  # forgets the previous fake set; the real statistics stay (reset_real_features=False)
        self._fid.update(fake_features, real=False)
        fid = finite_scalar(self._fid.compute(), "FID")
        middle = time.perf_counter()
        kid_mean, kid_std = self._kid(fake_features, subset_size) if self.kid_subsets else (None, None)
        self.last_seconds.update(extraction=0.0, fid=middle - start, kid=time.perf_counter() - middle)
        return FidResult(
            fid=fid,
            kid_mean=kid_mean,
            kid_std=kid_std,
            n_real=self.n_real,
            n_fake=n_fake,
            extractor=self.extractor_name,
            extractor_sha256=self.extractor_sha256,
            num_features=self.num_features,
            kid_subsets=self.kid_subsets,
            kid_subset_size=subset_size,
            notes=tuple(notes),
        )

    def _kid(self, fake_features: torch.Tensor, subset_size: int) -> tuple[float, float]:
        from torchmetrics.image.kid import KernelInceptionDistance

        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*will save all extracted features.*")
            kid = KernelInceptionDistance(
                feature=FeaturePassThrough(self.num_features),
                subsets=self.kid_subsets,
                subset_size=subset_size,
            )
        kid.update(self.real_features, real=True)
        kid.update(fake_features, real=False)
        # KID draws its subsets from torch's global generator: seed it here, leave the caller's untouched.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            mean, std = kid.compute()
        return finite_scalar(mean, "KID"), finite_scalar(std, "KID's standard deviation")


def compute_fid_kid(
    real_images: torch.Tensor,
    fake_images: torch.Tensor,
    extractor: str = DEFAULT_EXTRACTOR,
    **options: Any,
) -> FidResult:
    """FID and KID between two sets of uint8 images (N, C, H, W) with one registered extractor.

    ``options`` are :class:`FidEvaluator`'s: ``batch_size``, ``kid_subsets``, ``kid_subset_size``,
    ``weights``, ``device`` and ``seed``.
    """
    return FidEvaluator(real_images, extractor, **options).evaluate(fake_images)


@torch.no_grad()
def sample_uint8(
    G: Generator,
    n: int,
    *,
    generator: torch.Generator | None = None,
    seed: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    labels: torch.Tensor | int | None = None,
) -> torch.Tensor:
    """``n`` images from ``G`` in eval mode as uint8 (N, C, H, W) on the CPU, drawn in batches.

    A conditional G draws class ``labels`` (one int or int64 (n,)); by default every class equally often.

    Latents come from ``generator`` or, if None, a CPU generator seeded with ``seed`` (default 0), and do
    not depend on ``batch_size``. G's train/eval mode is restored afterwards: batch norm in train mode
    changes samples noticeably.
    """
    if n < 1:
        raise UsageError(f"the number of samples must be positive; got {n}.")
    if generator is None:
        generator = torch.Generator().manual_seed(0 if seed is None else seed)
    latents = G.sample_latent(n, generator=generator)  # all at once: the images do not depend on batch_size
    if G.conditional:
        labels = G.labels_for(n, labels)
    elif labels is not None:
        raise UsageError("this generator is not class-conditional; it takes no labels.")
    was_training = G.training
    G.eval()
    try:
        batches = [
            to_uint8(
                G(latents[start : start + batch_size])
                if labels is None
                else G(latents[start : start + batch_size], labels[start : start + batch_size])
            ).cpu()
            for start in range(0, n, batch_size)
        ]
    finally:
        G.train(was_training)
    return torch.cat(batches)
