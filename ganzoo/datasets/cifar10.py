"""``cifar10``: the binary version of CIFAR-10 (fixed-size records, no pickle), found locally, or extracted
from its verified archive into the user cache.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from ganzoo.datasets.base import Availability, DatasetOptions, DatasetSource, ImageDataset, cache_dir
from ganzoo.datasets.download import checksum_mismatch, safe_extract_tar
from ganzoo.datasets.locate import RemoteFile, candidate_dirs, find_local, how_to_provide, locate
from ganzoo.errors import DatasetError

CIFAR10_ARCHIVE = RemoteFile("cifar-10-binary.tar.gz", "md5:c32a1d4ab5d03f1284b67883e8d87530", size=170052171)
CIFAR10_MIRRORS = ("https://www.cs.toronto.edu/~kriz/",)
BATCH_DIR = "cifar-10-batches-bin"  # the archive's one top-level directory
SPLIT_FILES = {
    "train": tuple(f"data_batch_{i}.bin" for i in range(1, 6)),
    "test": ("test_batch.bin",),
}
IMAGE_SHAPE = (3, 32, 32)
RECORD_BYTES = 1 + 3 * 32 * 32  # one label byte, then the red, green and blue planes, row-major
CIFAR10_LICENSE = (
    "CIFAR-10 (Krizhevsky, Nair, Hinton): no license stated by its authors; cite A. Krizhevsky, "
    "'Learning Multiple Layers of Features from Tiny Images', 2009"
)


def read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One .bin file -> (uint8 images (N, 3, 32, 32), labels (N,))."""
    raw = path.read_bytes()
    if not raw or len(raw) % RECORD_BYTES:
        raise DatasetError(
            f"{path} is not a CIFAR-10 binary batch: its {len(raw)} bytes are not a whole number of "
            f"{RECORD_BYTES}-byte records (the file is truncated or from another dataset)."
        )
    records = np.frombuffer(raw, dtype=np.uint8).reshape(-1, RECORD_BYTES)
    labels = records[:, 0]
    if labels.max() >= 10:
        raise DatasetError(f"{path} is not a CIFAR-10 binary batch: it has labels above 9 (CIFAR-100?).")
    return records[:, 1:].reshape(-1, *IMAGE_SHAPE), labels


class Cifar10Source(DatasetSource):
    name = "cifar10"
    aliases = ("cifar-10",)
    summary = "60,000 32x32 color images in 10 classes, binary version (downloaded once, 162 MB)"
    license = CIFAR10_LICENSE

    def __init__(
        self, mirrors: Sequence[str] = CIFAR10_MIRRORS, archive: RemoteFile = CIFAR10_ARCHIVE
    ) -> None:
        self.mirrors = list(mirrors)  # base URLs tried in order
        self.archive = archive

    def _find_batches(self, split: str, dirs: Sequence[Path]) -> list[Path] | None:
        for directory in dirs:
            for candidate in (directory / BATCH_DIR, directory):
                paths = [candidate / name for name in SPLIT_FILES[split]]
                if all(path.is_file() for path in paths):
                    return paths
        return None

    def load(self, split: str, options: DatasetOptions) -> ImageDataset:
        self.check_split(split)
        dirs = candidate_dirs(self.name, options)
        batches = self._find_batches(split, dirs)
        if batches is None:
            self._extract(options, dirs)
            batches = self._find_batches(split, [cache_dir(self.name)])
            if batches is None:
                raise DatasetError(f"{self.archive.filename} holds no {BATCH_DIR}/{SPLIT_FILES[split][0]}.")
        parts = [read_cifar_batch(path) for path in batches]
        images = np.concatenate([images for images, _ in parts])
        labels = np.concatenate([labels for _, labels in parts]).astype(np.int64)
        return ImageDataset(
            self.name, split, torch.from_numpy(images), torch.from_numpy(labels), self.license, num_classes=10
        )

    def _extract(self, options: DatasetOptions, dirs: Sequence[Path]) -> None:
        """Put the batches into the cache from a local archive or, failing that, a downloaded one."""
        cache = cache_dir(self.name)
        archive = find_local(self.archive.names, dirs)
        if archive is None and not options.download:
            what = f"{BATCH_DIR}/ (or its .bin files), or the archive {self.archive.filename}"
            raise DatasetError(
                f"dataset {self.name!r} is not on this machine and downloads are off (--no-download). "
                + how_to_provide(self.name, what, dirs)
                + " Or allow the download."
            )
        if archive is None:
            archive = locate(self.name, self.archive, self.mirrors, options)  # verified by the download
        else:
            mismatch = checksum_mismatch(archive, self.archive.checksum)
            if mismatch:
                if archive.parent == cache:
                    archive.unlink()
                    raise DatasetError(f"{archive} was damaged ({mismatch}) and has been removed; run again.")
                raise DatasetError(
                    f"{archive} is not the published CIFAR-10 binary archive: {mismatch}. Replace it, or remove "
                    "it to let ganzoo download the archive."
                )
        safe_extract_tar(archive, cache)
        if archive.parent == cache:
            archive.unlink()  # the extracted batches are what is read; the archive would double the space

    def availability(self, options: DatasetOptions) -> Availability:
        dirs = candidate_dirs(self.name, options)
        batches = [self._find_batches(split, dirs) for split in self.splits]
        if all(paths is not None for paths in batches):
            found = [path for paths in batches if paths is not None for path in paths]
            places = sorted({str(path.parent) for path in found})
            return Availability("local", ", ".join(places), sum(path.stat().st_size for path in found))
        archive = find_local(self.archive.names, dirs)
        if archive is not None:
            return Availability("local", str(archive), archive.stat().st_size)
        if options.download and self.mirrors:
            return Availability("download", self.mirrors[0] + self.archive.filename)
        return Availability("unavailable")
