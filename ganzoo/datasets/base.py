"""The dataset interface: uint8 images in memory with their labels, license and a content fingerprint.

A :class:`DatasetSource` is what plugins register; it knows where its files are and loads one split as an
:class:`ImageDataset`. ``NAME:SPLIT`` (e.g. ``mnist-10k:test``) names one split wherever a command takes
an image source.
"""

from __future__ import annotations

import abc
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ganzoo.errors import UnknownNameError, UsageError

DATA_DIR_ENV = "GANZOO_DATA_DIR"


def seeded_choice(total: int, n: int, seed: int) -> torch.Tensor:
    """``min(n, total)`` distinct indices of ``range(total)`` drawn with ``seed``, in the order drawn: the one
    way ganzoo picks a seeded subset (of a split to train on, of a source to score, of images to classify)."""
    return torch.randperm(total, generator=torch.Generator().manual_seed(seed))[:n]


@dataclass
class ImageDataset:
    """One split of a dataset, held in memory: ``images`` is uint8 (N, C, H, W)."""

    name: str  # the source's registry name, e.g. "mnist-10k"
    split: str  # "train" or "test"
    images: torch.Tensor  # uint8 (N, C, H, W)
    labels: torch.Tensor | None  # int64 (N,), or None when the dataset has no labels
    license: str  # license and attribution line
    num_classes: int | None = None  # labels lie in 0..num_classes-1; None: one more than the largest label
    class_names: tuple[str, ...] | None = None  # the name of each class, when the source knows them
    _fingerprint: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.ndim != 4:
            raise ValueError(f"images must be uint8 (N, C, H, W), got {self.images.dtype} {tuple(self.images.shape)}")
        if self.labels is not None and len(self.labels) != len(self.images):
            raise ValueError("labels and images differ in length")
        if self.labels is None:
            self.num_classes = None
        elif self.num_classes is None:
            self.num_classes = int(self.labels.max()) + 1 if len(self.labels) else 0

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    @property
    def qualified_name(self) -> str:
        return f"{self.name}:{self.split}"

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def subset(self, n: int, seed: int) -> ImageDataset:
        """``n`` of its images and labels drawn with ``seed``, in their original order; the classes are kept
        (a subset may lack the last one, and a conditional model keeps them all)."""
        chosen = seeded_choice(len(self), n, seed).sort().values
        labels = None if self.labels is None else self.labels[chosen]
        return ImageDataset(
            self.name, self.split, self.images[chosen], labels, self.license,
            num_classes=self.num_classes, class_names=self.class_names,
        )  # fmt: skip

    @property
    def fingerprint(self) -> str:
        """sha256 of the images (and labels): runs, checkpoints and results record it."""
        if self._fingerprint is None:
            digest = hashlib.sha256()
            digest.update(repr(tuple(self.images.shape)).encode())
            digest.update(self.images.contiguous().numpy().tobytes())
            if self.labels is not None:
                digest.update(self.labels.to(torch.int64).contiguous().numpy().tobytes())
            self._fingerprint = "sha256:" + digest.hexdigest()
        return self._fingerprint


def to_model_range(images: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float [-1, 1], the range every Generator produces."""
    return images.float().mul_(2.0 / 255.0).sub_(1.0)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """float [-1, 1] -> uint8 [0, 255], rounding to the nearest level."""
    return ((images.detach().float().clamp(-1, 1) + 1.0) * 127.5).round_().to(torch.uint8)


@dataclass(frozen=True)
class DatasetOptions:
    """How a command asks for data; every source reads the fields that apply to it."""

    data_dir: Path | None = None  # --data-dir: searched first for dataset files
    download: bool = True  # allow a download when the files are nowhere local
    image_size: int | None = None  # folder datasets: square side to resize/crop to
    channels: int | None = None  # folder datasets: 1 (grayscale) or 3 (RGB)
    strict: bool = False  # folder datasets: an unreadable file is fatal instead of skipped
    progress: bool = True  # show a progress bar on downloads and decoding

    def __post_init__(self) -> None:
        if self.image_size is not None and self.image_size < 1:
            raise UsageError(f"the image size must be a positive number of pixels, got {self.image_size}.")
        if self.channels not in (None, 1, 3):
            raise UsageError(f"channels must be 1 (grayscale) or 3 (RGB), got {self.channels}.")


@dataclass(frozen=True)
class Availability:
    """What `ganzoo datasets` shows: whether the data is here and where."""

    status: str  # "embedded", "local", "download" (needs a download) or "unavailable"
    location: str | None = None  # the directory or file it was found in, or the download URL
    size_bytes: int | None = None  # on-disk size when known


class DatasetSource(abc.ABC):
    """A registered dataset; loading is lazy and happens only in :meth:`load`."""

    name: str  # registry name, e.g. "mnist"
    summary: str = ""  # one line for `ganzoo datasets`
    license: str = ""  # license and attribution
    splits: tuple[str, ...] = ("train", "test")
    aliases: tuple[str, ...] = ()

    @abc.abstractmethod
    def load(self, split: str, options: DatasetOptions) -> ImageDataset: ...

    @abc.abstractmethod
    def availability(self, options: DatasetOptions) -> Availability: ...

    def check_split(self, split: str) -> None:
        if split not in self.splits:
            raise UsageError(
                f"dataset {self.name!r} has no split {split!r}; its splits are: {', '.join(self.splits)}."
            )


def search_dirs(name: str, options: DatasetOptions) -> list[Path]:
    """Where local files of dataset ``name`` are looked for, in order."""
    dirs: list[Path] = []
    if options.data_dir is not None:
        dirs += [Path(options.data_dir) / name, Path(options.data_dir)]
    if os.environ.get(DATA_DIR_ENV):
        dirs += [Path(os.environ[DATA_DIR_ENV]) / name, Path(os.environ[DATA_DIR_ENV])]
    dirs.append(cache_dir(name))
    dirs.append(Path("/usr/share/datasets") / name)
    return dirs


def cache_dir(name: str) -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "ganzoo" / name


def split_source_name(source: str) -> tuple[str, str | None]:
    """``"mnist-10k:test"`` -> ("mnist-10k", "test"); ``"folder:PATH"`` keeps the path as its name."""
    if source.startswith("folder:"):
        return source, None
    name, sep, split = source.rpartition(":")
    if not sep:
        return source, None
    return name, split


def load_dataset(source: str, split: str | None = None, options: DatasetOptions | None = None) -> ImageDataset:
    """Load ``NAME`` or ``NAME:SPLIT`` (the split defaults to ``split`` or "train") from the registry."""
    from ganzoo.registry import zoo

    options = options or DatasetOptions()
    name, named_split = split_source_name(source)
    split = named_split or split or "train"
    if name.startswith("folder:"):
        from ganzoo.datasets.folder import FolderSource

        folder = name.removeprefix("folder:")
        if not folder:
            raise UsageError("folder: needs the directory of images after it, e.g. folder:~/pictures.")
        dataset_source: DatasetSource = FolderSource(Path(folder).expanduser())
    else:
        try:
            dataset_source = zoo().datasets.get(name)
        except UnknownNameError as exc:
            if Path(source).expanduser().is_dir():
                exc.args = (f"{exc} To use the images in the directory {source}, name it folder:{source}.",)
            raise
    dataset_source.check_split(split)
    return dataset_source.load(split, options)
