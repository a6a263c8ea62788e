"""pytest-benchmark set-up for ``pytest benchmarks/ --benchmark-only``: thread count, per-model round
counts, and a summary of the figures that only make sense side by side (engine / plain-loop ratios,
images per second) printed after pytest-benchmark's own tables."""

from __future__ import annotations

import os

import pytest

from benchmarks.harness import machine_line, set_threads

set_threads()

ROUNDS_ENV = "GANZOO_BENCH_ROUNDS"  # rounds per iteration benchmark; unset: by model cost
DEFAULT_ROUNDS = {"vanilla": 30, "dcgan": 12, "wgan-gp": 6, "gan.py": 30, "dcgan.py": 8, "wgan_gp.py": 12}

_medians: dict[tuple[str, str], float] = {}  # (what, model) -> median seconds per call
_throughputs: dict[str, float] = {}  # model -> generated images per second


def rounds_for(name: str) -> int:
    return int(os.environ.get(ROUNDS_ENV) or DEFAULT_ROUNDS.get(name, 10))


def median_seconds(benchmark) -> float | None:
    """The benchmark's median over its rounds, or None when benchmarks are disabled (a plain test run)."""
    stats = getattr(benchmark, "stats", None)
    return stats.stats.median if stats is not None else None


@pytest.fixture
def record_median():
    def record(what: str, model: str, benchmark) -> None:
        median = median_seconds(benchmark)
        if median is not None:
            _medians[(what, model)] = median
            if what == "plain" and ("engine", model) in _medians:
                benchmark.extra_info["engine_over_plain"] = _medians[("engine", model)] / median

    return record


@pytest.fixture
def record_throughput():
    def record(model: str, images: int, benchmark) -> None:
        median = median_seconds(benchmark)
        if median is not None:
            _throughputs[model] = images / median
            benchmark.extra_info["images_per_second"] = _throughputs[model]

    return record


def pytest_terminal_summary(terminalreporter) -> None:
    models = [model for (what, model) in _medians if what == "engine" and ("plain", model) in _medians]
    if not _medians and not _throughputs:
        return
    write = terminalreporter.write_line
    terminalreporter.section("ganzoo: figures side by side")
    write(f"machine: {machine_line()}")
    for model in models:
        engine, plain = _medians[("engine", model)], _medians[("plain", model)]
        write(
            f"{model:10s} engine {engine * 1e3:9.2f} ms  plain loop {plain * 1e3:9.2f} ms  "
            f"engine/plain {engine / plain:.3f} (medians)"
        )
    total = _medians.get(("fid-evaluate", "lenet-mnist"))
    if total:
        parts = {"fid-features": "feature extraction", "fid-frechet": "Frechet distance"}
        shares = [
            f"{label} {_medians[(key, 'lenet-mnist')] / total:.1%}"
            for key, label in parts.items()
            if (key, "lenet-mnist") in _medians
        ]
        write(f"FID 10k vs 10k, one evaluation {total:.2f} s: " + ", ".join(shares))
        if ("fid-kid", "lenet-mnist") in _medians:
            write(f"KID beside FID (from features) adds {_medians[('fid-kid', 'lenet-mnist')]:.2f} s")
    for model, rate in _throughputs.items():
        write(f"{model:10s} sampling {rate:,.0f} images/s")
