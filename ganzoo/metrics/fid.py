"""FID, KID, precision/recall, density/coverage and the classifier score between two sets of uint8 images,
all computed on features extracted once per set (FID and KID by torchmetrics).

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
from ganzoo.metrics.classifier_score import ClassifierScore, classifier_score
from ganzoo.metrics.extractors import InputConversions, build_feature_extractor, describe_input
from ganzoo.metrics.manifold import DENSITY_COVERAGE_K, ManifoldReference
from ganzoo.metrics.reference_cache import ReferenceFeatures, cached_reference, images_sha256
from ganzoo.metrics.sample_size import sample_size_note

DEFAULT_EXTRACTOR = "lenet-mnist"
DEFAULT_BATCH_SIZE = 250  # images per extractor call: bounded memory, near-full CPU throughput
DEFAULT_KID_SUBSETS = 100  # torch-fidelity's and torchmetrics' defaults
DEFAULT_KID_SUBSET_SIZE = 1000
MIN_IMAGES = 2  # a covariance (FID) and an unbiased MMD estimate (KID) need two samples per set


@dataclass(frozen=True)
class FidResult:
    """The scores of one fake set against one real set, with what it takes to compare them with others."""

    fid: float
    kid_mean: float | None  # None when KID was not asked for (kid_subsets=0)
    kid_std: float | None  # spread (standard deviation) of the single-subset estimates; not an error bar
    n_real: int
    n_fake: int
    extractor: str  # canonical registry name
    extractor_sha256: str | None  # "sha256:..." of the extractor's weights, when it has a file
    num_features: int
    kid_subsets: int  # 0: KID was skipped
    kid_subset_size: int  # may be smaller than asked when a set is smaller (see notes)
    notes: tuple[str, ...] = field(default=())  # caveats a reader of the score should see
    # The standard error of kid_mean (kid_std / sqrt(subsets)); None when all subsets are the same images.
    kid_sem: float | None = None
    precision: float | None = None  # k = 3 (Kynkäänniemi et al. 2019); None when not computed
    recall: float | None = None
    density: float | None = None  # k = 5 (Naeem et al. 2020)
    coverage: float | None = None
    classifier_score: ClassifierScore | None = None  # of the fake set, from the extractor's own classifier
    classifier_score_real: ClassifierScore | None = None  # of the real set, to read it against
    # What the extractor did to each set's images before its network saw them (channels, size, range).
    real_conversions: tuple[str, ...] = field(default=())
    fake_conversions: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for name in ("notes", "real_conversions", "fake_conversions"):
            data[name] = list(data[name])
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


def score_notes(
    extractor: str, num_features: int, n_real: int, n_fake: int, real: InputConversions, fake: InputConversions
) -> list[str]:
    """What a reader must know: the extractor's conversions and warnings, and the small-sample bias."""
    notes = []
    for what, given in (("real", real), ("generated", fake)):
        if given.changes_images:
            notes.append(f"{extractor} converted the {what} images: {'; '.join(given.changes_images)}.")
        notes += [f"{what} images: {warning}" for warning in given.warnings]
    if min(n_real, n_fake) <= num_features:
        notes.append(
            f"fewer images than features ({num_features}): the covariances are singular and FID is "
            "strongly biased upwards; compare only scores with equal sample counts."
        )
    small = sample_size_note(extractor, min(n_real, n_fake))
    return notes + ([small] if small else [])


def kid_scores(
    real_features: torch.Tensor, fake_features: torch.Tensor, subsets: int, subset_size: int, seed: int,
    notes: list[str],
) -> tuple[float | None, float | None, float | None]:
    """KID's mean, the spread of its single-subset estimates and the standard error of the mean (the last
    two None where no error bar is known); a note when every subset is the whole set."""
    if not subsets:
        return None, None, None
    from torchmetrics.image.kid import KernelInceptionDistance

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*will save all extracted features.*")
        kid = KernelInceptionDistance(
            feature=FeaturePassThrough(real_features.shape[1]), subsets=subsets, subset_size=subset_size
        )
    kid.update(real_features, real=True)
    kid.update(fake_features, real=False)
    # KID draws its subsets from torch's global generator: seed it here, leave the caller's untouched.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        mean, std = kid.compute()
    mean_value = finite_scalar(mean, "KID")
    if subset_size >= max(len(real_features), len(fake_features)):
        notes.append(
            f"KID was computed on the whole sets ({subset_size} images each): every subset is the same, "
            "so KID has no error bar here."
        )
        return mean_value, None, None
    if subsets == 1:
        return mean_value, None, None  # one estimate: its spread is unknown
    std_value = finite_scalar(std, "KID's standard deviation")
    return mean_value, std_value, std_value / math.sqrt(subsets)


class FidEvaluator:
    """Scores image sets against one real set whose features and FID statistics are computed once.

    ``FidEvaluator(real_images, "lenet-mnist").evaluate(fake_images)`` -> :class:`FidResult`. KID costs
    far more than FID at 10,000 images (``kid_subsets`` kernel matrices of ``kid_subset_size`` squared);
    ``kid_subsets=0`` skips it. ``manifold`` (precision, recall, density, coverage) and ``classifier``
    (the classifier score, for extractors with a classifier) may be switched off as attributes too.
    """

    def __init__(
        self,
        real_images: torch.Tensor | ReferenceFeatures,
        extractor: str = DEFAULT_EXTRACTOR,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        kid_subsets: int = DEFAULT_KID_SUBSETS,
        kid_subset_size: int = DEFAULT_KID_SUBSET_SIZE,
        weights: str | Path | None = None,
        device: str | torch.device = "cpu",
        seed: int = 0,
        manifold: bool = True,
        classifier: bool = True,
        cache: bool = False,
    ) -> None:
        if not isinstance(real_images, ReferenceFeatures):
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
        self.manifold, self.classifier = manifold, classifier
        self._manifold_reference: ManifoldReference | None = None  # the real radii, built on first use
        start = time.perf_counter()
        self.reference, self.reference_cached = self._reference(real_images, cache)
        self.real_features = self.reference.features
        # Wall-clock seconds of the last steps, for benchmarks of the metric itself.
        self.last_seconds: dict[str, float] = {"real_extraction": time.perf_counter() - start}
        self.num_features = int(self.real_features.shape[1])
        from torchmetrics.image.fid import FrechetInceptionDistance  # here: it pulls in scipy (CLI start-up)

        self._fid = FrechetInceptionDistance(
            feature=FeaturePassThrough(self.num_features), reset_real_features=False
        )
        self._fid.update(self.real_features, real=True)
        self.real_classifier_score = (
            classifier_score(self.extractor, self.real_features, self.extractor_name, seed=seed)
            if classifier
            else None
        )

    def _reference(
        self, real: torch.Tensor | ReferenceFeatures, cache: bool
    ) -> tuple[ReferenceFeatures, bool]:
        """The real set's features: given, from the cache (``cache``), or extracted now."""
        if isinstance(real, ReferenceFeatures):
            if (real.extractor, real.extractor_sha256) != (self.extractor_name, self.extractor_sha256):
                raise UsageError(
                    f"the statistics were computed with {real.extractor} ({real.extractor_sha256}), not with "
                    f"{self.extractor_name} ({self.extractor_sha256}); pass --features {real.extractor} or save "
                    "them again."
                )
            self.real_input = InputConversions(real.conversions)
            return real, False
        self.real_input = describe_input(self.extractor, real, self.extractor_name)

        def make() -> ReferenceFeatures:
            features = extract_features(self.extractor, real, self.batch_size)
            return ReferenceFeatures(
                features, self.extractor_name, self.extractor_sha256, images_sha256(real),
                f"{len(real)} images", self.real_input.conversions,
            )

        if cache:
            return cached_reference(real, self.extractor_name, self.extractor_sha256, make)
        return make(), False

    @property
    def n_real(self) -> int:
        return int(self.real_features.shape[0])

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """The extractor's float32 features of uint8 ``images``."""
        return extract_features(self.extractor, images, self.batch_size)

    def evaluate(self, fake_images: torch.Tensor) -> FidResult:
        """FID and KID of uint8 ``fake_images`` against the real set."""
        check_images(fake_images, "generated images")
        fake_input = describe_input(self.extractor, fake_images, self.extractor_name)
        start = time.perf_counter()
        features = self.features(fake_images)
        extraction_seconds = time.perf_counter() - start
        result = self.evaluate_features(features, fake_input)
        self.last_seconds["extraction"] = extraction_seconds
        return result

    def evaluate_features(
        self, fake_features: torch.Tensor, fake_input: InputConversions | None = None
    ) -> FidResult:
        """The scores of already extracted features (N, D) against the real set; ``fake_input`` says what
        the extractor did to the images they come from."""
        n_fake = int(fake_features.shape[0])
        if n_fake < MIN_IMAGES:
            raise UsageError(f"FID and KID need at least {MIN_IMAGES} generated images; got {n_fake}.")
        if fake_features.shape[1:] != (self.num_features,):
            raise UsageError(
                f"the features have shape {tuple(fake_features.shape)}; this evaluator's have {self.num_features}."
            )
        fake_input = fake_input or InputConversions()
        notes = score_notes(
            self.extractor_name, self.num_features, self.n_real, n_fake, self.real_input, fake_input
        )
        subset_size = min(self.kid_subset_size, self.n_real, n_fake) if self.kid_subsets else 0
        if self.kid_subsets and subset_size < self.kid_subset_size:
            notes.append(
                f"KID subsets shrunk from {self.kid_subset_size} to {subset_size} images (the smaller set's size)."
            )
        start = time.perf_counter()
        self._fid.reset()  # forgets the previous fake set; the real statistics stay (reset_real_features=False)
        self._fid.update(fake_features, real=False)
        fid = finite_scalar(self._fid.compute(), "FID")
        middle = time.perf_counter()
        kid_mean, kid_std, kid_sem = kid_scores(
            self.real_features, fake_features, self.kid_subsets, subset_size, self.seed, notes
        )
        after_kid = time.perf_counter()
        manifold = self._manifold_scores(fake_features, notes)
        fake_score = (
            classifier_score(self.extractor, fake_features, self.extractor_name, seed=self.seed)
            if self.classifier
            else None
        )
        self.last_seconds.update(
            extraction=0.0, fid=middle - start, kid=after_kid - middle, manifold=time.perf_counter() - after_kid
        )
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
            kid_sem=kid_sem,
            **(manifold.scores() if manifold else {}),
            classifier_score=fake_score,
            classifier_score_real=self.real_classifier_score if self.classifier else None,
            real_conversions=self.real_input.conversions,
            fake_conversions=fake_input.conversions,
        )

    def _manifold_scores(self, fake_features: torch.Tensor, notes: list[str]):
        if not self.manifold:
            return None
        if min(self.n_real, len(fake_features)) <= DENSITY_COVERAGE_K:
            notes.append(f"precision, recall, density and coverage need more than {DENSITY_COVERAGE_K} images.")
            return None
        if self._manifold_reference is None:
            parameter = next(self.extractor.parameters(), None)
            device = parameter.device if parameter is not None else "cpu"
            self._manifold_reference = ManifoldReference(self.real_features, device=device)
        return self._manifold_reference.score(fake_features)


def compute_fid_kid(
    real_images: torch.Tensor,
    fake_images: torch.Tensor,
    extractor: str = DEFAULT_EXTRACTOR,
    **options: Any,
) -> FidResult:
    """FID, KID, precision/recall, density/coverage and the classifier score between two sets of uint8
    images (N, C, H, W) with one registered extractor.

    ``options`` are :class:`FidEvaluator`'s: ``batch_size``, ``kid_subsets``, ``kid_subset_size``,
    ``weights``, ``device``, ``seed``, ``manifold``, ``classifier`` and ``cache``.
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
