"""FID's sample-size bias: the real-data floor (real train digits against real test digits) at each sample
count, so that a score computed on fewer than 10,000 images carries the floor it should be read against.

The figures are measured by ``python -m benchmarks.floor_vs_n`` (lenet-mnist, mnist-10k, five seeds of
random subsets; benchmarks/floor_vs_n.md has every metric) and documented in docs/metrics.md.
"""

from __future__ import annotations

FULL_SAMPLE = 10_000  # the usual FID sample count; below it, FID's bias is no longer small
# n -> (lowest, highest) FID of mnist-10k:train against mnist-10k:test with lenet-mnist over seeds 0-4.
LENET_MNIST_FLOOR = {
    500: (1.97, 3.37),
    1_000: (1.09, 1.98),
    2_000: (0.58, 1.07),
    5_000: (0.33, 0.45),
    10_000: (0.31, 0.31),  # both whole splits: one value
}
FLOOR_EXTRACTOR = "lenet-mnist"


def _range(n: int) -> str:
    low, high = LENET_MNIST_FLOOR[n]
    return f"{low:.2f}" if low == high else f"{low:.2f}-{high:.2f}"


def floor_at(n: int) -> str:
    """The measured floor at ``n`` images, or the two measured counts around it."""
    counts = sorted(LENET_MNIST_FLOOR)
    if n in LENET_MNIST_FLOOR:
        return f"{_range(n)} at n = {n:,}"
    below = [c for c in counts if c < n]
    above = [c for c in counts if c > n]
    if not below:
        return f"above {_range(counts[0])} (its value at n = {counts[0]:,})"
    return f"between {_range(above[0])} (n = {above[0]:,}) and {_range(below[-1])} (n = {below[-1]:,})"


def sample_size_note(extractor: str, n: int, measured_floor: float | None = None) -> str | None:
    """A note for a score computed from ``n`` (the smaller set's count) < 10,000 images, else None.

    ``measured_floor`` is the floor measured at this ``n`` by the caller (the bench computes one).
    """
    if n >= FULL_SAMPLE:
        return None
    text = f"n = {n:,} < {FULL_SAMPLE:,}: FID is biased upwards by the small sample"
    if measured_floor is not None:
        text += f"; the real-data floor measured at this n is FID {measured_floor:.2f}"
    elif extractor == FLOOR_EXTRACTOR:
        text += (
            f"; real MNIST digits (mnist-10k train vs test) score FID {floor_at(n)} with {FLOOR_EXTRACTOR}, "
            f"against {_range(FULL_SAMPLE)} at n = {FULL_SAMPLE:,}"
        )
    else:
        text += "; measure the real-data floor at this n (`ganzoo fid DATASET:train DATASET:test --n N`)"
    return text + ". Compare only scores computed at the same n (docs/metrics.md)."
