"""``folder:PATH``: the user's own PNG/JPEG images, converted to one square size and channel count, decoded
once and cached as an .npz keyed by the file list and the options.

A folder has a single split: ``train`` and ``test`` both name all of its images.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from ganzoo.console import warn
from ganzoo.datasets.base import Availability, DatasetOptions, DatasetSource, ImageDataset, cache_dir
from ganzoo.datasets.download import progress_bar
from ganzoo.errors import DatasetError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")  # matched without regard to case
DEFAULT_IMAGE_SIZE = 64  # the largest size every built-in model supports (28, 32 and 64 are)
CACHE_FORMAT = 1  # bump when decoding changes, so old caches are not reused
NAMES_SHOWN = 5  # unreadable files named in a warning before "and N more"
# Pixels one image may decode to (after a JPEG's reduced-scale draft): a small file can hold a huge image
# (a 20 KB 1-bit PNG of 13000x13000 decodes to 1.7 GB), so the header is read first, as Pillow's
# decompression-bomb check does, and a larger image is skipped with its size.
MAX_PIXELS = 8192 * 8192


def image_files(root: Path) -> list[Path]:
    """PNG and JPEG files under ``root`` at any depth, sorted by relative path; hidden files and directories
    (names starting with '.', e.g. macOS ``._photo.jpg``) are left out and symlinked directories not followed."""
    if not root.exists():
        raise DatasetError(
            f"folder {root} does not exist; folder:PATH takes a directory of PNG or JPEG images."
        )
    if not root.is_dir():
        raise DatasetError(
            f"{root} is a file, not a directory; folder:PATH takes a directory of PNG or JPEG images."
        )
    files = []
    for directory, subdirs, names in os.walk(root):
        subdirs[:] = [d for d in subdirs if not d.startswith(".")]
        files += [
            Path(directory, n) for n in names if not n.startswith(".") and n.lower().endswith(IMAGE_SUFFIXES)
        ]
    if not files:
        raise DatasetError(
            f"no PNG or JPEG images under {root} (searched at any depth for .png, .jpg, .jpeg)."
        )
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def _as_l_or_rgb(image: Image.Image) -> Image.Image:
    """Any PIL mode -> "L" or "RGB", keeping the full range of 16-bit and float grayscale images."""
    if image.mode in ("L", "RGB"):
        return image
    if image.mode in ("1", "LA"):
        return image.convert("L")
    if image.mode.startswith("I"):  # 16- or 32-bit grayscale (16-bit PNGs): scale 0..65535 to 0..255
        values = np.asarray(image, dtype=np.float64) / 257.0
        return Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8), "L")
    if image.mode == "F":
        return Image.fromarray(np.clip(np.rint(np.asarray(image)), 0, 255).astype(np.uint8), "L")
    if image.mode in ("P", "PA") and ("transparency" in image.info or image.mode == "PA"):
        image = image.convert("RGBA")  # the documented route for palettes with transparency
    return image.convert("RGB")  # alpha is dropped; CMYK, YCbCr etc. are converted


def decode_image(path: Path, size: int, channels: int | None) -> np.ndarray:
    """One file -> uint8 (size, size, C): turned upright by its EXIF orientation, center-cropped to a square
    and resized with bicubic filtering. C is ``channels``, or 3 when it is None (grayscale is decided later)."""
    with Image.open(path) as image:  # lazy: the header is read, no pixel yet
        image.draft(
            "L" if channels == 1 else "RGB", (size, size)
        )  # JPEG: decode at a reduced scale when large
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise ImageTooLarge(f"{width}x{height} pixels, more than the {MAX_PIXELS:,} one image may have")
        image = _as_l_or_rgb(ImageOps.exif_transpose(image))
        image = image.convert("L" if channels == 1 else "RGB")
        width, height = image.size
        side = min(width, height)
        left, top = (width - side) // 2, (height - side) // 2
        # Crop first: resizing with a box would let the filter reach the pixels cropped away.
        image = image.crop((left, top, left + side, top + side)).resize(
            (size, size), Image.Resampling.BICUBIC
        )
        pixels = np.asarray(image, dtype=np.uint8)
    return pixels[:, :, None] if pixels.ndim == 2 else pixels


class ImageTooLarge(ValueError):
    """An image whose header says it would decode to more than MAX_PIXELS."""


def unreachable_files(files: list[Path], root: Path) -> tuple[list[Path], list[tuple[str, str]]]:
    """(files that can be read, (name, why) of the others): a dangling or looping symlink, a file that
    vanished or cannot be opened is skipped like an unreadable image, not fatal."""
    kept, skipped = [], []
    for path in files:
        try:
            path.stat()  # follows a symlink: a dangling or looping one fails here
        except OSError as exc:
            why = "a dangling or looping symlink" if path.is_symlink() else "cannot be read"
            skipped.append((path.relative_to(root).as_posix(), f"{why} ({exc.strerror or exc})"))
        else:
            kept.append(path)
    return kept, skipped


@dataclass
class DecodedFolder:
    images: np.ndarray  # uint8 (N, C, H, W)
    skipped: list[tuple[str, str]]  # (relative path, why) of each unreadable file


def decode_folder(
    root: Path, files: list[Path], size: int, channels: int | None, progress: bool
) -> DecodedFolder:
    """Decode every file; with ``channels`` None the result is grayscale when every image is."""
    decoded, skipped = [], []
    with progress_bar(f"decoding {root.name or root}", len(files), progress, unit="files") as advance:
        for path in files:
            try:
                decoded.append(decode_image(path, size, channels))
            # A damaged file can make a decoder raise almost anything; it is reported by name, not hidden.
            except ImageTooLarge as exc:
                skipped.append((path.relative_to(root).as_posix(), f"too large: {exc}"))
            except Exception as exc:  # noqa: BLE001
                skipped.append((path.relative_to(root).as_posix(), f"{type(exc).__name__}: {exc}"))
            advance(1)
    if not decoded:
        return DecodedFolder(np.zeros((0, channels or 1, size, size), np.uint8), skipped)
    images = np.stack(decoded).transpose(0, 3, 1, 2)
    if channels is None and bool((images[:, 0:1] == images[:, 1:]).all()):
        images = images[:, :1]  # every image has equal R, G and B: store it as the grayscale it is
    return DecodedFolder(np.ascontiguousarray(images), skipped)


def _cache_key(root: Path, files: list[Path], size: int, channels: int | None) -> str:
    listing = []
    for path in files:
        stat = path.stat()
        listing.append([path.relative_to(root).as_posix(), stat.st_size, stat.st_mtime_ns])
    description = {
        "format": CACHE_FORMAT,
        "root": str(root),
        "size": size,
        "channels": channels,
        "files": listing,
    }
    return hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()[:32]


def _read_cache(path: Path, size: int) -> DecodedFolder | None:
    """The cached decoding, or None when it is missing or unusable (it is then rebuilt)."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            images = archive["images"]
            skipped = list(zip(archive["skipped_files"].tolist(), archive["skipped_reasons"].tolist()))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, EOFError):
        return None
    if (
        images.dtype != np.uint8
        or images.ndim != 4
        or images.shape[1] not in (1, 3)
        or images.shape[2:] != (size, size)
    ):
        return None
    return DecodedFolder(images, skipped)


def _write_cache(path: Path, decoded: DecodedFolder) -> None:
    """Write atomically (temporary file, fsync, rename); a cache that cannot be written only costs time."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".partial", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                np.savez(
                    out,
                    images=decoded.images,
                    skipped_files=np.array([name for name, _ in decoded.skipped], dtype=str),
                    skipped_reasons=np.array([why for _, why in decoded.skipped], dtype=str),
                )
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, path)
        finally:
            Path(temporary).unlink(missing_ok=True)
    except OSError as exc:
        warn(
            f"could not cache the decoded images in {path.parent} ({exc.strerror or exc}); they will be decoded again."
        )


def _list_skipped(skipped: list[tuple[str, str]], limit: int = NAMES_SHOWN) -> str:
    shown = "; ".join(f"{name} ({why})" for name, why in skipped[:limit])
    return shown + (f"; and {len(skipped) - limit} more" if len(skipped) > limit else "")


def folder_classes(
    root: Path, files: list[Path], skipped: set[str]
) -> tuple[tuple[str, ...], list[int]] | None:
    """Labels from first-level subfolder names, as torchvision's ImageFolder: (class names sorted, one label
    per decoded file), or None (unlabeled) when any image lies directly in ``root``."""
    relative = [path.relative_to(root) for path in files]
    if any(len(path.parts) < 2 for path in relative):
        return None
    names = tuple(sorted({path.parts[0] for path in relative}))
    index = {name: i for i, name in enumerate(names)}
    return names, [index[path.parts[0]] for path in relative if path.as_posix() not in skipped]


class FolderSource(DatasetSource):
    """A directory tree of PNG/JPEG images with one split (``train``; ``test`` is the same). It is labeled
    when every image sits in a first-level subfolder (the class is the subfolder's name), else unlabeled.

    ``DatasetOptions.image_size`` (default 64) is the side of the square every image is center-cropped and
    resized to; ``DatasetOptions.channels`` is 1 or 3, by default 1 when every image is grayscale, else 3.
    Unreadable files are skipped with a warning naming them, or are fatal with ``DatasetOptions.strict``.
    """

    splits = ("train", "test")
    summary = "your own PNG/JPEG images, at any depth under PATH"
    license = "user-provided images: their license is their owner's"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.name = f"folder:{self.path}"

    def load(self, split: str, options: DatasetOptions) -> ImageDataset:
        self.check_split(split)
        root = self.path.resolve()
        listed = image_files(root)
        files, unreachable = unreachable_files(listed, root)
        size = options.image_size or DEFAULT_IMAGE_SIZE
        cache_file = cache_dir("folders") / f"{_cache_key(root, files, size, options.channels)}.npz"
        decoded = _read_cache(cache_file, size) if files else None
        if decoded is None:
            decoded = decode_folder(root, files, size, options.channels, options.progress)
            if len(decoded.images):
                _write_cache(cache_file, decoded)
        decoded = DecodedFolder(decoded.images, sorted(unreachable + decoded.skipped))
        files = listed
        if decoded.skipped and (options.strict or not len(decoded.images)):
            reason = (
                "--strict makes any unreadable file an error" if len(decoded.images) else "none could be read"
            )
            raise DatasetError(
                f"{len(decoded.skipped)} of the {len(files)} image files under {root} are unreadable ({reason}): "
                f"{_list_skipped(decoded.skipped, limit=20)}. Fix or remove them."
            )
        if decoded.skipped:
            warn(
                f"skipped {len(decoded.skipped)} unreadable of {len(files)} image files under {root}: "
                f"{_list_skipped(decoded.skipped)}. Use --strict to make this an error."
            )
        classes = folder_classes(root, files, {name for name, _ in decoded.skipped})
        names, labels = classes if classes is not None else (None, None)
        return ImageDataset(
            f"folder:{root}",
            split,
            torch.from_numpy(decoded.images),
            None if labels is None else torch.tensor(labels, dtype=torch.int64),
            self.license,
            num_classes=None if names is None else len(names),
            class_names=names,
        )

    def availability(self, options: DatasetOptions) -> Availability:
        if not self.path.is_dir():
            return Availability("unavailable", str(self.path))
        files = image_files(self.path)
        return Availability("local", str(self.path.resolve()), sum(path.stat().st_size for path in files))
