"""The IDX datasets, ``mnist``, ``fashion-mnist`` and ``kmnist``: the IDX file format (gzip or raw) and a
source that finds the four files locally or downloads them from the official mirrors.
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from ganzoo.datasets.base import Availability, DatasetOptions, DatasetSource, ImageDataset, cache_dir
from ganzoo.datasets.embedded import MNIST_LICENSE
from ganzoo.datasets.locate import RemoteFile, candidate_dirs, find_local, locate
from ganzoo.errors import DatasetError

# IDX type codes (the third byte of the magic number) and the big-endian numpy types they stand for.
IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
GZIP_MAGIC = b"\x1f\x8b"


def parse_idx(raw: bytes, source: str = "the data") -> np.ndarray:
    """Decode the bytes of one uncompressed IDX file; DatasetError if they are not exactly one IDX array."""
    if len(raw) < 4 or raw[0:2] != b"\0\0" or raw[2] not in IDX_TYPES or raw[3] == 0:
        raise DatasetError(
            f"{source} is not an IDX file: it starts with bytes {raw[:4].hex() or '(none)'}, while an IDX file "
            "starts with 0000, a type code (08 for bytes) and its number of dimensions."
        )
    ndim = raw[3]
    header_bytes = 4 + 4 * ndim
    if len(raw) < header_bytes:
        raise DatasetError(f"{source} is truncated: it ends inside its IDX header.")
    shape = struct.unpack(f">{ndim}I", raw[4:header_bytes])
    dtype = np.dtype(IDX_TYPES[raw[2]])
    count = math.prod(shape)
    expected_bytes = header_bytes + count * dtype.itemsize
    if len(raw) < expected_bytes:
        raise DatasetError(
            f"{source} is truncated: its header promises an array of shape {shape} ({expected_bytes} bytes) "
            f"but it holds {len(raw)} bytes."
        )
    if len(raw) > expected_bytes:
        raise DatasetError(
            f"{source} is not a valid IDX file: {len(raw) - expected_bytes} bytes follow the array of shape "
            f"{shape} its header describes."
        )
    return np.frombuffer(raw, dtype=dtype, count=count, offset=header_bytes).reshape(shape)


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file, gzip-compressed or not (told apart by content, not by the file name)."""
    raw = path.read_bytes()
    if raw[:2] == GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise DatasetError(f"{path} is a damaged gzip file ({exc}).") from None
    return parse_idx(raw, str(path))


def idx_pair(
    prefix: str, images_checksum: str, labels_checksum: str, sizes: tuple[int | None, int | None] = (None, None)
) -> tuple[RemoteFile, RemoteFile]:
    """The images and labels files of one split as published (``PREFIX-images-idx3-ubyte.gz``, ...), also
    accepted uncompressed and with the dotted names some archives use (``PREFIX-images.idx3-ubyte``)."""

    def remote(kind: str, ndim: int, checksum: str, size: int | None) -> RemoteFile:
        base = f"{prefix}-{kind}-idx{ndim}-ubyte"
        return RemoteFile(base + ".gz", checksum, (base, f"{prefix}-{kind}.idx{ndim}-ubyte"), size)

    return remote("images", 3, images_checksum, sizes[0]), remote("labels", 1, labels_checksum, sizes[1])


class IdxSource(DatasetSource):
    """A labelled grayscale dataset published as four IDX files (images and labels of train and test)."""

    def __init__(
        self,
        name: str,
        summary: str,
        license: str,
        files: dict[str, tuple[RemoteFile, RemoteFile]],
        mirrors: Sequence[str],
        *,
        aliases: tuple[str, ...] = (),
        layouts: tuple[str, ...] = (),
        image_size: tuple[int, int] = (28, 28),
        num_classes: int = 10,
    ) -> None:
        self.name = name
        self.summary = summary
        self.license = license
        self.files = files  # split -> (images file, labels file)
        self.splits = tuple(files)
        self.mirrors = list(mirrors)  # base URLs tried in order
        self.aliases = aliases
        self.layouts = layouts  # subdirectories other tools use, e.g. torchvision's "MNIST/raw"
        self.image_size = image_size
        self.num_classes = num_classes

    def load(self, split: str, options: DatasetOptions) -> ImageDataset:
        self.check_split(split)
        images_file, labels_file = self.files[split]
        images_path = locate(self.name, images_file, self.mirrors, options, self.layouts)
        labels_path = locate(self.name, labels_file, self.mirrors, options, self.layouts)
        images = self._read(images_path)
        labels = self._read(labels_path)
        self._check(images, labels, images_path, labels_path)
        return ImageDataset(
            self.name,
            split,
            torch.from_numpy(images[:, None].astype(np.uint8)),  # astype copies out of the read-only buffer
            torch.from_numpy(labels.astype(np.int64)),
            self.license,
            num_classes=self.num_classes,
        )

    def _read(self, path: Path) -> np.ndarray:
        try:
            return read_idx(path)
        except DatasetError as exc:
            raise DatasetError(f"{exc} {self._remedy(path)}") from None

    def _remedy(self, path: Path) -> str:
        # A file in our own cache was verified when downloaded; if it went bad since, removing it lets the
        # next run download it again. A file the user provided is theirs to replace.
        if path.parent == cache_dir(self.name):
            path.unlink(missing_ok=True)
            return "It was in ganzoo's cache and has been removed; the next run downloads it again."
        return f"Replace it with the published file (dataset {self.name!r})."

    def _check(self, images: np.ndarray, labels: np.ndarray, images_path: Path, labels_path: Path) -> None:
        rows_cols = tuple(images.shape[1:])
        if images.ndim != 3 or images.dtype != np.uint8 or rows_cols != self.image_size:
            raise DatasetError(
                f"{images_path} holds a {images.dtype} array of shape {images.shape}, not {self.name} images "
                f"(uint8, N x {self.image_size[0]} x {self.image_size[1]}). {self._remedy(images_path)}"
            )
        if labels.ndim != 1 or labels.dtype != np.uint8 or (labels.size and labels.max() >= self.num_classes):
            raise DatasetError(
                f"{labels_path} does not hold {self.name} labels (uint8 values below {self.num_classes}). "
                f"{self._remedy(labels_path)}"
            )
        if len(labels) != len(images):
            raise DatasetError(
                f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} labels; "
                "they come from different releases or one of them is damaged."
            )

    def availability(self, options: DatasetOptions) -> Availability:
        dirs = candidate_dirs(self.name, options, self.layouts)
        found = [find_local(file.names, dirs) for pair in self.files.values() for file in pair]
        if all(path is not None for path in found):
            places = sorted({str(path.parent) for path in found if path is not None})
            size = sum(path.stat().st_size for path in found if path is not None)
            return Availability("local", ", ".join(places), size)
        if options.download and self.mirrors:
            return Availability("download", self.mirrors[0])
        return Availability("unavailable")


MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
FASHION_MNIST_MIRRORS = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
)
KMNIST_MIRRORS = (
    "https://codh.rois.ac.jp/kmnist/dataset/kmnist/",
    "http://codh.rois.ac.jp/kmnist/dataset/kmnist/",
)

FASHION_MNIST_LICENSE = "Fashion-MNIST (Xiao, Rasul, Vollgraf 2017), MIT License; copyright Zalando SE"
KMNIST_LICENSE = (
    "KMNIST, CC BY-SA 4.0: 'KMNIST Dataset' (created by CODH), adapted from 'Kuzushiji Dataset' "
    "(created by NIJL and others), doi:10.20676/00000341"
)


def mnist_family() -> list[IdxSource]:
    """The three built-in IDX datasets, with the md5 sums their publishers (and torchvision) give."""
    return [
        IdxSource(
            "mnist",
            "all 60,000 MNIST training digits and the 10,000 test digits (downloaded once, ~11 MB)",
            MNIST_LICENSE,
            {
                "train": idx_pair(
                    "train",
                    "md5:f68b3c2dcbeaaa9fbdd348bbdeb94873",
                    "md5:d53e105ee54ea40749a09fcbcd1e9432",
                    (9912422, 28881),
                ),
                "test": idx_pair(
                    "t10k",
                    "md5:9fb629c4189551a2d022fa330f9573f3",
                    "md5:ec29112dd5afa0611ce80d1b7f02629c",
                    (1648877, 4542),
                ),
            },
            MNIST_MIRRORS,
            layouts=("MNIST/raw",),
        ),
        IdxSource(
            "fashion-mnist",
            "Zalando's 70,000 28x28 grayscale clothing images in 10 classes (downloaded once, ~30 MB)",
            FASHION_MNIST_LICENSE,
            {
                "train": idx_pair(
                    "train", "md5:8d4fb7e6c68d591d4c3dfef9ec88bf0d", "md5:25c81989df183df01b3e8a0aad5dffbe"
                ),
                "test": idx_pair(
                    "t10k", "md5:bef4ecab320f06d8554ea6380940ec79", "md5:bb300cfdad3c16e7a12a480ee83cd310"
                ),
            },
            FASHION_MNIST_MIRRORS,
            aliases=("fashion",),
            layouts=("FashionMNIST/raw",),
        ),
        IdxSource(
            "kmnist",
            "Kuzushiji-MNIST: 70,000 28x28 cursive Japanese characters in 10 classes (downloaded once, ~21 MB)",
            KMNIST_LICENSE,
            {
                "train": idx_pair(
                    "train", "md5:bdb82020997e1d708af4cf47b453dcf7", "md5:e144d726b3acfaa3e44228e80efcd344"
                ),
                "test": idx_pair(
                    "t10k", "md5:5c965bf0a639b31b8f53240b1b52f4d7", "md5:7320c461ea6c1c855c0b718fb2a4b134"
                ),
            },
            KMNIST_MIRRORS,
            layouts=("KMNIST/raw",),
        ),
    ]
