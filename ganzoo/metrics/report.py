"""How scores are written for people: every "±" says what it is, and no spread is printed where none is known."""

from __future__ import annotations

from typing import Any

from ganzoo.metrics.classifier_score import ClassifierScore

NOT_KNOWN = "n/a"


def kid_text(mean: float | None, sem: float | None, digits: int = 5) -> str:
    """ "0.00123 ± 0.00045 (s.e.m.)", the mean alone when no error bar is known, "-" when skipped."""
    if mean is None:
        return "-"
    if sem is None:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {sem:.{digits}f} (s.e.m.)"


def fraction_text(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def classifier_text(score: ClassifierScore | dict[str, Any] | None) -> str:
    if score is None:
        return "-"
    data = score.as_dict() if isinstance(score, ClassifierScore) else score
    if data.get("std") is None:
        return f"{data['value']:.3f}"
    return f"{data['value']:.3f} ± {data['std']:.3f} (std, {data['splits']} splits)"


def metric_rows(result: Any) -> list[tuple[str, str, str]]:
    """(metric, B against A, A's own value) rows of a :class:`~ganzoo.metrics.fid.FidResult`."""
    rows = [
        ("FID", f"{result.fid:.4f}", "-"),
        (
            f"KID ({result.kid_subsets} subsets of {result.kid_subset_size})"
            if result.kid_subsets
            else "KID",
            kid_text(result.kid_mean, result.kid_sem),
            "-",
        ),
    ]
    if result.precision is not None:
        rows += [
            ("precision (k=3)", fraction_text(result.precision), "-"),
            ("recall (k=3)", fraction_text(result.recall), "-"),
            ("density (k=5)", fraction_text(result.density), "-"),
            ("coverage (k=5)", fraction_text(result.coverage), "-"),
        ]
    if result.classifier_score is not None:
        real = result.classifier_score_real
        rows.append(
            (result.classifier_score.name, classifier_text(result.classifier_score), classifier_text(real))
        )
    return rows
