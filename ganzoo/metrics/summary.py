"""What the bench records of an evaluation beyond FID (KID's standard error, precision, recall, density,
coverage, the classifier score and the notes) and how it averages and prints them over seeds, so that
ganzoo/bench.py needs only a few lines for them."""

from __future__ import annotations

import statistics
from typing import Any

from ganzoo.metrics.fid import FidResult
from ganzoo.metrics.report import NOT_KNOWN, fraction_text

MANIFOLD_METRICS = ("precision", "recall", "density", "coverage")


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
    """The mean FID over seeds, "± std" only from two seeds or more (one seed's spread is unknown)."""
    mean = statistics.mean(fids)
    return f"{mean:.2f}" if len(fids) < 2 else f"{mean:.2f} ± {statistics.stdev(fids):.2f}"


QUALITY_COLUMNS = ["model", "FID", "precision", "recall", "density", "coverage", "classifier score"]


def quality_rows(results: dict[str, Any]) -> list[list[str]]:
    """One row per model (means over seeds of the final evaluation) and the real-data row."""
    rows = []
    for model in sorted(results["models"], key=lambda m: m["fid_mean"]):
        score = model.get("classifier_score_mean")
        rows.append(
            [model["model"], f"{model['fid_mean']:.2f}"]
            + [fraction_text(model.get(f"{name}_mean")) for name in MANIFOLD_METRICS]
            + [NOT_KNOWN if score is None else f"{score:.3f}"]
        )
    floor = results["floor"]
    score = floor.get("classifier_score")
    rows.append(
        ["real data", f"{floor['fid']:.2f}"]
        + [fraction_text(floor.get(name)) for name in MANIFOLD_METRICS]
        + [NOT_KNOWN if score is None else f"{score:.3f}"]
    )
    return rows


def quality_title(results: dict[str, Any]) -> str:
    seeds = len(results["seeds"])
    return (
        f"Fidelity and diversity ({results['feature_extractor']['name']} features; precision and recall k = 3, "
        f"density and coverage k = 5; {'mean over ' + str(seeds) + ' seeds' if seeds > 1 else 'one seed, no spread'}; "
        "real data: the floor, and the test images' own classifier score)"
    )


def quality_markdown(results: dict[str, Any]) -> list[str]:
    lines = [quality_title(results) + ":", "", "| " + " | ".join(QUALITY_COLUMNS) + " |"]
    lines.append("|" + "---|" * len(QUALITY_COLUMNS))
    return lines + ["| " + " | ".join(row) + " |" for row in quality_rows(results)]
