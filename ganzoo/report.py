"""The benchmark's results page: one self-contained report.html (no script, no network: the plot and the
sample grids are embedded) with the table of every metric, each model's samples, every evaluation, the
provenance of the numbers and links to the run directories; and the provenance text of the plot's PNG."""

from __future__ import annotations

import base64
import html
import json
import os
from pathlib import Path
from typing import Any

from ganzoo import checkpoint as ckpt
from ganzoo.images import chart_metadata

REPORT_FILE = "report.html"

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em;
       color: #1d1d1f; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.7em; text-align: left; white-space: nowrap; }
th { background: #f3f3f5; } td.number { text-align: right; font-variant-numeric: tabular-nums; }
tr.floor td { color: #555; font-style: italic; }
.samples { display: flex; flex-wrap: wrap; gap: 1.5em; }
figure { margin: 0; } figcaption { text-align: center; font-weight: 600; }
img.grid { width: 240px; image-rendering: pixelated; border: 1px solid #ccc; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.2em 1em; }
dt { font-weight: 600; }
dd { margin: 0; font-family: ui-monospace, monospace; font-size: 0.85em; white-space: pre-wrap; }
.note { color: #555; }
"""


def write_report(results: dict[str, Any], out: Path) -> Path:
    """Write ``out/report.html`` from results.json's content and the PNGs beside it."""
    out = Path(out)
    path = out / REPORT_FILE
    path.write_text(report_html(results, out), encoding="utf-8")
    return path


def report_html(results: dict[str, Any], out: Path) -> str:
    from ganzoo.bench import TABLE_COLUMNS, table_rows

    e = html.escape
    extractor = results["feature_extractor"]
    budget = results["budget"]
    budget_text = (
        f"{budget['steps']} generator steps" if budget.get("steps")
        else f"{budget['time_budget_seconds']:.0f} s of training (evaluation excluded)"
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>ganzoo bench: {e(results['dataset']['name'])}, {e(results['created'])}</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>ganzoo bench results</h1>",
        f"<p>FID and KID of each model's generator ({e(results['sampling'])}) against "
        f"<code>{e(results['reference_split'])}</code>: {results['n_fake']} generated against "
        f"{results['n_real']} real images, features <code>{e(extractor['name'])}</code>. Trained on "
        f"<code>{e(results['training_split'])}</code>, budget {e(budget_text)} per run, seeds "
        f"{e(', '.join(map(str, results['seeds'])))}. Scores from different feature extractors or sample "
        f"counts are not comparable. Created {e(results['created'])}.</p>",
        "<h2>Results</h2>",
        _table(TABLE_COLUMNS, table_rows(results), floor_last=True),
        '<p class="note">Sorted by mean final FID; lower is better. The real-data floor is the score of '
        f"<code>{e(results['training_split'])}</code> against <code>{e(results['reference_split'])}</code> "
        "with the same extractor and counts.</p>",
        *_other_metrics(results),
    ]
    plot = _data_uri(out / "fid_vs_time.png")
    if plot:
        parts += [
            "<h2>FID against training time</h2>",
            f'<img id="fid-vs-time" src="{plot}" alt="FID against training time" width="700">',
        ]
    parts += ["<h2>Samples</h2>", '<div class="samples">']
    for model in results["models"]:
        grid = _data_uri(out / f"samples_{model['model']}.png")
        if grid:
            parts.append(
                f'<figure><img class="grid" src="{grid}" alt="samples of {e(model["model"])}">'
                f"<figcaption>{e(model['model'])}</figcaption></figure>"
            )
    parts += [
        "</div>",
        '<p class="note">64 images from each model\'s generator after the benchmark (first seed, fixed '
        "noise); the PNG files carry metadata saying they are synthetic.</p>",
        "<h2>Every run and evaluation</h2>",
        _runs_table(results, out),
        "<h2>Provenance</h2>",
        '<p class="note">Every number on this page was measured with these settings (results.json holds '
        "the same).</p>",
        _definitions({k: v for k, v in results.items() if k != "models"}),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _other_metrics(results: dict[str, Any]) -> list[str]:
    """The fidelity and diversity table and, for conditional models, CAS and intra-FID."""
    from ganzoo.metrics import summary

    e = html.escape
    parts = [
        "<h2>Fidelity and diversity</h2>",
        f'<p class="note">{e(summary.quality_title(results))}</p>',
        _table(summary.QUALITY_COLUMNS, summary.quality_rows(results), floor_last=True),
    ]
    conditional = [m for m in results["models"] if "cas_mean" in m]
    if conditional:
        rows = [
            [m["model"], f"{100 * m['cas_mean']:.2f}%", f"{m['intra_fid_mean']:.2f}"]
            for m in sorted(conditional, key=lambda m: -m["cas_mean"])
        ]
        ceiling = results.get("cas_ceiling") or {}
        if "ceiling" in ceiling:
            rows.append(["real data (ceiling)", f"{100 * ceiling['ceiling']:.2f}%", "-"])
        parts += [
            "<h2>Conditional models</h2>",
            '<p class="note">CAS: test accuracy of a fixed classifier trained on generated images with '
            "balanced labels (the ceiling: the same recipe on real images); intra-FID: FID per class, "
            "averaged.</p>",
            _table(["model", "CAS", "intra-FID"], rows, floor_last="ceiling" in ceiling),
        ]
    return parts


def _table(columns: list[str], rows: list[list[str]], floor_last: bool = False) -> str:
    e = html.escape
    lines = ["<table>", "<tr>" + "".join(f"<th>{e(c)}</th>" for c in columns) + "</tr>"]
    for index, row in enumerate(rows):
        floor = floor_last and index == len(rows) - 1
        cells = "".join(
            f'<td class="number">{e(str(v))}</td>' if _numeric(v) else f"<td>{e(str(v))}</td>" for v in row
        )
        lines.append(f'<tr class="floor">{cells}</tr>' if floor else f"<tr>{cells}</tr>")
    return "\n".join([*lines, "</table>"])


def _numeric(value: Any) -> bool:
    return str(value)[:1].isdigit()


def _runs_table(results: dict[str, Any], out: Path) -> str:
    e = html.escape
    lines = [
        "<table>",
        "<tr><th>model</th><th>seed</th><th>run directory</th><th>step</th><th>training time</th>"
        "<th>FID</th><th>KID</th></tr>",
    ]
    for model in results["models"]:
        for seed in model["seeds"]:
            link = _relative(seed["run_directory"], out)
            for evaluation in seed["evaluations"]:
                kid = evaluation.get("kid")
                lines.append(
                    f"<tr><td>{e(model['model'])}</td><td class=\"number\">{seed['seed']}</td>"
                    f'<td><a href="{e(link)}/">{e(link)}</a></td>'
                    f"<td class=\"number\">{evaluation['step']}</td>"
                    f"<td class=\"number\">{evaluation['train_seconds']:.1f} s</td>"
                    f"<td class=\"number\">{evaluation['fid']:.3f}</td>"
                    f"<td class=\"number\">{'-' if kid is None else f'{kid:.4f}'}</td></tr>"
                )
    return "\n".join([*lines, "</table>"])


def _relative(directory: str, out: Path) -> str:
    """A run directory as a link that works wherever the results folder is moved with its runs."""
    try:
        return Path(os.path.relpath(Path(directory).resolve(), Path(out).resolve())).as_posix()
    except ValueError:  # another drive on Windows
        return Path(directory).resolve().as_uri()


def _definitions(data: dict[str, Any]) -> str:
    e = html.escape
    lines = ["<dl>"]
    for key, value in data.items():
        if isinstance(value, str):
            text = value
        else:  # nested settings one per line, lists and numbers on one
            text = json.dumps(value, indent=1 if isinstance(value, dict) else None, default=str)
        lines.append(f"<dt>{e(str(key))}</dt><dd>{e(text)}</dd>")
    return "\n".join([*lines, "</dl>"])


def _data_uri(path: Path) -> str | None:
    if not path.exists():
        return None
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def plot_provenance(results: dict[str, Any]) -> dict[str, str]:
    """The plot's PNG text: which runs (each final generator's sha256) and settings its numbers come from."""
    generators = {
        f"{m['model']} seed {s['seed']}": _generator_sha256(Path(s["run_directory"]))
        for m in results["models"]
        for s in m["seeds"]
    }
    return chart_metadata(
        f"FID against training time, ganzoo bench on {results['dataset']['name']}",
        {
            "ganzoo:models": ", ".join(m["model"] for m in results["models"]),
            "ganzoo:checkpoint-sha256": json.dumps(generators),
            "ganzoo:feature-extractor": f"{results['feature_extractor']['name']} {results['feature_extractor']['sha256']}",
            "ganzoo:samples": f"{results['n_fake']} generated against {results['n_real']} {results['reference_split']}",
            "ganzoo:created": results["created"],
        },
    )


def _generator_sha256(run_directory: Path) -> str:
    path = run_directory / ckpt.FINAL_GENERATOR
    return ckpt.file_sha256(path) if path.exists() else "unknown"
