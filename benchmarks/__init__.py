"""ganzoo's performance benchmarks: pytest-benchmark suites (``pytest benchmarks/ --benchmark-only``) and
scripts run from the repository root as ``python -m benchmarks.NAME``; figures go in RESULTS.md."""
