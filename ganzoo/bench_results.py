"""How a bench's results read: the rows of its table, results.md and the FID-against-time plot, all made
from the results dict that ganzoo.bench writes to results.json (so a report can be redrawn from the file)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ganzoo.metrics import conditional
from ganzoo.metrics import summary as metric_summary
from ganzoo.report import plot_provenance


def table_rows(results: dict[str, Any]) -> list[list[str]]:
    rows = []
    for m in sorted(results["models"], key=lambda m: m["fid_mean"]):
        rows.append(
            [
                m["model"],
                m["plugin"],
                f"{m['steps']:.0f}",
                f"{m['train_seconds']:.0f} s",
                f"{m['images_per_second']:.0f}",
                metric_summary.fid_cell([s["evaluations"][-1]["fid"] for s in m["seeds"]]),
                f"{m['kid_mean']:.4f}",
                f"{m['best_step']} ({m['best_fid']:.2f})",
            ]
        )
    floor = results["floor"]
    rows.append(["real data (floor)", "-", "-", "-", "-", f"{floor['fid']:.2f}", f"{floor['kid']:.4f}", "-"])
    return rows


TABLE_COLUMNS = ["model", "plugin", "steps", "train time", "images/s", "FID (± std over seeds)", "KID",
                 "best step (FID)"]


def results_markdown(results: dict[str, Any]) -> str:
    lines = [
        "# ganzoo bench results",
        "",
        f"FID and KID of each model's EMA generator (eval mode) against `{results['reference_split']}`, "
        f"{results['n_fake']} generated vs {results['n_real']} real images, features `"
        f"{results['feature_extractor']['name']}` ({_short_hash(results['feature_extractor']['sha256'])}). "
        f"Trained on `{results['training_split']}`{_training_note(results)}; seeds {results['seeds']}; budget "
        + (
            f"{results['budget']['steps']} steps"
            if results["budget"]["steps"]
            else f"{results['budget']['time_budget_seconds']:.0f} s of training per run"
        )
        + ". Scores from different feature extractors are not comparable. Precision and recall use k = 3, "
        "density and coverage k = 5, on the same features; the classifier score of the real row is the test "
        "images' own.",
        *(line for note in results.get("notes", []) for line in ("", f"Note: {note}")),
        "",
        "| " + " | ".join(TABLE_COLUMNS) + " |",
        "|" + "---|" * len(TABLE_COLUMNS),
    ]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(results)]
    lines += ["", *metric_summary.quality_markdown(results)]
    machine, v = results["machine"], results["versions"]
    lines += [
        "",
        f"Machine: {machine['cpu']}, {machine['cpu_count']} cores"
        + (f", {machine['gpu']}" if machine.get("gpu") else "")
        + f"; device {results['device']}; ganzoo {v['ganzoo']}, torch {v['torch']}, torchmetrics {v['torchmetrics']}; "
        f"{results['created']}.",
        "",
        "![FID against training time](fid_vs_time.png)",
        "",
    ]
    return "\n".join(lines) + conditional.bench_markdown(results)


def _training_note(results: dict[str, Any]) -> str:
    note = f" ({results['training_subset']} images of it per seed)" if results.get("training_subset") else ""
    return note + (f" with augmentation {','.join(results['augment'])}" if results.get("augment") else "")


def _short_hash(digest: str | None) -> str:
    """'sha256:37a11...' (the form hashes are recorded in) shortened, the prefix written once."""
    if not digest:
        return "no weights file"
    algorithm, _, value = digest.rpartition(":")
    return f"{algorithm or 'sha256'} {value[:12]}..."


def plot_fid_against_time(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5), dpi=120)
    for model in results["models"]:
        for index, seed in enumerate(model["seeds"]):
            times = [e["train_seconds"] for e in seed["evaluations"]]
            fids = [e["fid"] for e in seed["evaluations"]]
            axes.plot(times, fids, marker="o", label=model["model"] if index == 0 else None,
                      color=f"C{results['models'].index(model)}", alpha=1.0 if index == 0 else 0.5)
    axes.axhline(results["floor"]["fid"], color="gray", linestyle="--", label="real-data floor")
    axes.set_xlabel("training time (s, evaluation excluded)")
    axes.set_ylabel(f"FID ({results['feature_extractor']['name']}, {results['n_fake']} samples)")
    axes.set_yscale("log")
    axes.set_title(f"FID against training time on {results['dataset']['name']}")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, metadata=plot_provenance(results))
    plt.close(figure)
