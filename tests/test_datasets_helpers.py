"""Helpers for the dataset tests (this module holds no tests): small IDX files written on the fly."""

from __future__ import annotations

import gzip
import struct

import numpy as np


def idx_bytes(array: np.ndarray) -> bytes:
    """An uncompressed IDX file holding a uint8 array."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def write_idx_split(directory, prefix: str, images: np.ndarray, labels: np.ndarray, compress: bool) -> None:
    """The images and labels files of one split, named as published, gzip-compressed or not."""
    directory.mkdir(parents=True, exist_ok=True)
    for kind, ndim, array in (("images", 3, images), ("labels", 1, labels)):
        data = idx_bytes(array)
        name = f"{prefix}-{kind}-idx{ndim}-ubyte"
        if compress:
            (directory / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (directory / name).write_bytes(data)


def random_digits(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``count`` random 28x28 uint8 images and labels below 10."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (count, 28, 28), dtype=np.uint8), rng.integers(0, 10, count, dtype=np.uint8)
