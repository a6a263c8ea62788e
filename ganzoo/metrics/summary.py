"""What the bench records of an evaluation beyond FID (KID's standard error, precision, recall, density,
coverage, the classifier score and the notes) and how it averages and prints them over seeds, so that
ganzoo/bench.py needs only a few lines for them."""

from __future__ import annotations

import statistics
from typing import Any

from ganzoo.metrics.fid import FidResult
from ganzoo.metrics.report import NOT_KNOWN, fraction_text, spread_text

MANIFOLD_METRICS = ("precision", "recall", "density", "coverage")
COLUMNS = ["precision", "recall", "density", "coverage", "classifier score"]


def evaluation_metrics(result: FidResult) -> dict[str, Any]:
    """The scores of one evaluation that the bench keeps beside FID and KID."""
    score = result.classifier_score
    return {
        "kid_sem": result.kid_sem,
        **{name: getattr(result, name) for name in MANIFOLD_METRICS},
        "classifier_score": None if score is None else score.value,
        "classifier_score_name": None if score is None else score.name,
        "notes": list(result.notes),
        "fake_conversions": list(result.fake_conversions),
    }


def floor_metrics(floor: FidResult) -> dict[str, Any]:
    """The real-data row: the floor's scores, and the real test images' own classifier score."""
    real_score = floor.classifier_score_real
    return {
        "fid": floor.fid,
        "kid": floor.kid_mean,
        "kid_std": floor.kid_std,
        **evaluation_metrics(floor),
        "classifier_score": None if real_score is None else real_score.value,
        "classifier_score_of": "the reference (test) images",
        "real_conversions": list(floor.real_conversions),
    }


def _mean(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.mean(known) if known else None


def seed_summary(finals: list[dict[str, Any]]) -> dict[str, Any]:
    """Means over seeds of the final evaluations' ``metrics`` dicts; no spread from a single seed."""
    summary: dict[str, Any] = {}
    for name in (*MANIFOLD_METRICS, "classifier_score"):
        summary[f"{name}_mean"] = _mean([final.get(name) for final in finals])
    return summary


def fid_spread(fids: list[float]) -> float | None:
    """The standard deviation of FID over seeds; None (unknown, not zero) from one seed."""
    return statistics.stdev(fids) if len(fids) > 1 else None


def fid_cell(fids: list[float]) -> str:
    return spread_text(fids)


def model_cells(model: dict[str, Any]) -> list[str]:
    cells = [fraction_text(model.get(f"{name}_mean")) for name in MANIFOLD_METRICS]
    score = model.get("classifier_score_mean")
    return cells + ([NOT_KNOWN] if score is None else [f"{score:.3f}"])


def floor_cells(floor: dict[str, Any]) -> list[str]:
    cells = [fraction_text(floor.get(name)) for name in MANIFOLD_METRICS]
    score = floor.get("classifier_score")
    return cells + ([NOT_KNOWN] if score is None else [f"{score:.3f} (test images)"])
