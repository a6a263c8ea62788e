"""Improved precision and recall (Kynkäänniemi et al. 2019, k = 3) and density and coverage (Naeem et al.
2020, k = 5) on an extractor's features: FID mixes fidelity and diversity into one number, these separate them.

Each set's manifold is the union of balls around its points whose radius is the distance to the k-th nearest
other point. Distances come from ``torch.cdist`` in chunks of rows, so 10,000 against 10,000 needs neither an
(N, N) matrix in memory nor more time than extracting the features; the real set's radii are computed once.
The definitions (strict ``<``, the point itself excluded from its neighbours) are those of the authors'
``prdc`` package, against which the tests check them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch

from ganzoo.errors import UsageError

PRECISION_RECALL_K = 3  # Kynkäänniemi et al.'s choice
DENSITY_COVERAGE_K = 5  # Naeem et al.'s choice
CHUNK_ROWS = 1024  # rows of a distance block: 1024 x 10,000 float32 is 40 MB


@dataclass(frozen=True)
class ManifoldScores:
    """Precision: the fraction of generated points inside the real manifold (fidelity). Recall: the fraction
    of real points inside the generated manifold (diversity). Density: how many real balls contain a generated
    point on average, divided by k (about 1 for real data, above 1 for mode-seeking sets). Coverage: the
    fraction of real points whose ball holds a generated point."""

    precision: float
    recall: float
    density: float
    coverage: float
    precision_recall_k: int = PRECISION_RECALL_K
    density_coverage_k: int = DENSITY_COVERAGE_K

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)

    def scores(self) -> dict[str, float]:
        """The four scores alone (their k are fixed by the definitions of the metrics)."""
        return {name: getattr(self, name) for name in ("precision", "recall", "density", "coverage")}


def nearest_neighbour_radii(
    features: torch.Tensor, ks: tuple[int, ...], chunk_rows: int = CHUNK_ROWS
) -> dict[int, torch.Tensor]:
    """For each k of ``ks``: the distance from every row of ``features`` to its k-th nearest other row."""
    largest = max(ks)
    if len(features) <= largest:
        raise UsageError(
            f"precision, recall, density and coverage need more than {largest} images per set; got {len(features)}."
        )
    smallest = []
    for start in range(0, len(features), chunk_rows):
        distances = torch.cdist(features[start : start + chunk_rows], features)
        # The row itself is among the smallest (distance 0), hence k + 1, as prdc counts.
        smallest.append(distances.topk(largest + 1, dim=1, largest=False).values)
    values = torch.cat(smallest)
    return {k: values[:, k] for k in ks}


class ManifoldReference:
    """The real set's features and neighbour radii, computed once; :meth:`score` compares a generated set."""

    def __init__(
        self,
        real_features: torch.Tensor,
        precision_recall_k: int = PRECISION_RECALL_K,
        density_coverage_k: int = DENSITY_COVERAGE_K,
        chunk_rows: int = CHUNK_ROWS,
        device: str | torch.device = "cpu",
    ) -> None:
        if min(precision_recall_k, density_coverage_k) < 1:
            raise UsageError("the neighbourhood sizes k must be positive.")
        self.device = torch.device(
            device
        )  # the extractor's: distances on a GPU when the features came from one
        self.real = real_features.to(self.device, torch.float32)
        self.pr_k, self.dc_k, self.chunk_rows = precision_recall_k, density_coverage_k, chunk_rows
        radii = nearest_neighbour_radii(self.real, (self.pr_k, self.dc_k), chunk_rows)
        self.real_pr_radii, self.real_dc_radii = radii[self.pr_k], radii[self.dc_k]

    @torch.inference_mode()
    def score(self, fake_features: torch.Tensor) -> ManifoldScores:
        fake = fake_features.to(self.device, torch.float32)
        fake_radii = nearest_neighbour_radii(fake, (self.pr_k,), self.chunk_rows)[self.pr_k]
        inside_real = torch.zeros(len(fake), dtype=torch.bool, device=self.device)
        real_balls_hit = 0
        recalled = torch.zeros(len(self.real), dtype=torch.bool, device=self.device)
        nearest_fake = torch.full((len(self.real),), torch.inf, device=self.device)
        for start in range(0, len(fake), self.chunk_rows):
            stop = start + self.chunk_rows
            distances = torch.cdist(fake[start:stop], self.real)  # (chunk, real)
            inside_real[start:stop] = (distances < self.real_pr_radii).any(dim=1)
            # Density needs only the total count; a full count_nonzero is far cheaper than per-row sums.
            real_balls_hit += int(torch.count_nonzero(distances < self.real_dc_radii))
            recalled |= (distances < fake_radii[start:stop, None]).any(dim=0)
            nearest_fake = torch.minimum(nearest_fake, distances.amin(dim=0))
        return ManifoldScores(
            precision=float(inside_real.double().mean()),
            recall=float(recalled.double().mean()),
            density=real_balls_hit / (self.dc_k * len(fake)),
            coverage=float((nearest_fake < self.real_dc_radii).double().mean()),
            precision_recall_k=self.pr_k,
            density_coverage_k=self.dc_k,
        )


def manifold_scores(
    real_features: torch.Tensor, fake_features: torch.Tensor, **options: Any
) -> ManifoldScores:
    """Precision, recall, density and coverage of ``fake_features`` against ``real_features`` (N, D)."""
    return ManifoldReference(real_features, **options).score(fake_features)
