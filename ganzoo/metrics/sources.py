"""Image sources named on the command line, resolved to uint8 images: a dataset split, a run directory or
checkpoint (samples of its EMA generator), an ``.npz`` of images, or a folder of images."""

from __future__ import annotations

import zipfile
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from ganzoo.datasets.base import DatasetOptions, load_dataset, seeded_choice
from ganzoo.errors import UsageError

DEFAULT_GENERATOR_SAMPLES = 10_000  # the usual FID sample count, used when no count is asked for
CHANNEL_COUNTS = (1, 3)


class ImageSource(NamedTuple):
    images: torch.Tensor | None  # uint8 (N, C, H, W) on the CPU; None for a statistics file's features
    description: str  # what the images are, for tables and results
    notes: tuple[str, ...] = ()  # every change made to the images while loading them, for the output


def load_image_source(
    spec: str,
    n: int | None = None,
    seed: int = 0,
    *,
    options: DatasetOptions | None = None,
    device: str | torch.device = "cpu",
) -> ImageSource:
    """The images ``spec`` names, ``n`` of them (default: all; 10,000 from a generator).

    ``spec`` is ``NAME`` or ``NAME:SPLIT`` (a registered dataset), ``folder:PATH`` or a directory that is
    not a run directory (its images, at their own size unless ``options.image_size`` asks for one), a run directory or checkpoint file (samples of its EMA generator in
    eval mode, on ``device``, latents seeded with ``seed``), or an ``.npz`` holding uint8 ``images`` as
    (N, C, H, W), (N, H, W) or (N, H, W, C). A subset of a larger set is drawn at random with ``seed``.
    """
    if n is not None and n < 1:
        raise UsageError(f"the number of images must be positive; got {n}.")
    path = Path(spec).expanduser()
    if spec.startswith("folder:"):
        return _folder_images(Path(spec[len("folder:") :]).expanduser(), n, seed, options)
    if path.suffix.lower() == ".npz":
        return _npz_images(path, n, seed)
    if path.is_dir():
        if is_run_directory(path):
            return _generator_images(path, n, seed, device)
        return _folder_images(path, n, seed, options)
    if path.is_file():
        return _generator_images(path, n, seed, device)
    if "/" in spec or spec.startswith(("~", ".")):
        raise UsageError(
            f"no file or directory {spec}: an image source is NAME:SPLIT, a run directory, a checkpoint, "
            "an .npz of images or folder:PATH."
        )
    return _dataset_images(spec, n, seed, options)


def is_run_directory(path: Path) -> bool:
    from ganzoo.checkpoint import CHECKPOINT_DIR, CONFIG_FILE, FINAL_GENERATOR

    return (
        (path / CONFIG_FILE).is_file()
        or (path / FINAL_GENERATOR).is_file()
        or (path / CHECKPOINT_DIR).is_dir()
    )


def random_subset(images: torch.Tensor, n: int | None, seed: int, what: str) -> torch.Tensor:
    """``n`` of ``images`` drawn without replacement (in their original order), or all when ``n`` is None."""
    if n is None or n == len(images):
        return images
    if n > len(images):
        raise UsageError(f"{what} holds only {len(images)} images; ask for --n {len(images)} or fewer.")
    return images[seeded_choice(len(images), n, seed).sort().values]


def _dataset_images(spec: str, n: int | None, seed: int, options: DatasetOptions | None) -> ImageSource:
    dataset = load_dataset(spec, options=options)
    images = random_subset(dataset.images, n, seed, dataset.qualified_name)
    return ImageSource(images, f"{dataset.qualified_name} ({len(images)} of {len(dataset)} images)")


def folder_image_sizes(root: Path) -> dict[tuple[int, int], int]:
    """How many of the folder's images have each (width, height), read from the file headers only."""
    from PIL import Image, UnidentifiedImageError

    from ganzoo.datasets.folder import image_files

    sizes: dict[tuple[int, int], int] = {}
    for file in image_files(root):
        try:
            with Image.open(file) as image:
                size = image.size
        except (OSError, UnidentifiedImageError, ValueError):
            continue  # unreadable: the folder loader names it when it skips or refuses it
        sizes[size] = sizes.get(size, 0) + 1
    return sizes


def _folder_images(root: Path, n: int | None, seed: int, options: DatasetOptions | None) -> ImageSource:
    """A folder's images at their own size; resized only when ``options.image_size`` asks, and then said so.

    A metric must not change the images it is given: the folder loader's default (crop and resize to 64)
    would upsample 28x28 digits that the extractor then downsamples again, and change the score.
    """
    options = options or DatasetOptions()
    notes: list[str] = []
    sizes = folder_image_sizes(root)
    if options.image_size is None:
        if len(sizes) > 1 or any(width != height for width, height in sizes):
            shown = ", ".join(f"{w}x{h} ({count})" for (w, h), count in sorted(sizes.items())[:5])
            raise UsageError(
                f"the images under {root} are not all one square size ({shown}); pass --image-size S to "
                "center-crop and resize every image to SxS (bicubic) before scoring."
            )
        if sizes:
            ((side, _),) = sizes
            options = replace(options, image_size=side)
    elif set(sizes) != {(options.image_size, options.image_size)}:
        notes.append(
            f"the images of folder {root} were center-cropped to squares and resized to "
            f"{options.image_size}x{options.image_size} (bicubic), as --image-size asked."
        )
    source = _dataset_images(f"folder:{root}", n, seed, options)
    return source._replace(notes=tuple(notes))


def _generator_images(path: Path, n: int | None, seed: int, device: str | torch.device) -> ImageSource:
    from ganzoo.checkpoint import load_generator
    from ganzoo.images import check_image_budget
    from ganzoo.metrics.fid import sample_uint8

    G = load_generator(path, device=device)
    count = DEFAULT_GENERATOR_SAMPLES if n is None else n
    check_image_budget(count, G.image_shape)  # before sampling: --n 1000000000 is refused, not attempted
    images = sample_uint8(G, count, seed=seed)
    model = getattr(G, "model_name", "generator")
    sha = getattr(G, "checkpoint_sha256", None)
    where = f"{path}" + (f", sha256 {sha[:12]}" if sha else "")
    return ImageSource(
        images, f"{count} samples of {model}'s EMA generator in eval mode ({where}; seed {seed})"
    )


def _npz_images(path: Path, n: int | None, seed: int) -> ImageSource:
    if not path.is_file():
        raise UsageError(f"no .npz file at {path}.")
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise UsageError(f"{path} is not a readable .npz archive: {exc}") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise UsageError(f"{path} holds a single array, not an .npz archive with an 'images' array.")
    with archive:
        if "images" not in archive.files:
            raise UsageError(
                f"{path} has no 'images' array (it has: {', '.join(archive.files) or 'nothing'})."
            )
        try:
            array = archive["images"]
        except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
            raise UsageError(f"cannot read 'images' from {path}: {exc}") from None
    images = torch.from_numpy(np.ascontiguousarray(images_nchw(array, path)))
    images = random_subset(images, n, seed, str(path))
    return ImageSource(images, f"{path} ({len(images)} images)")


def images_nchw(array: np.ndarray, path: Path) -> np.ndarray:
    """uint8 (N, C, H, W) from (N, C, H, W), (N, H, W) or (N, H, W, C) with C in 1 or 3."""
    if array.dtype != np.uint8:
        raise UsageError(
            f"'images' in {path} is {array.dtype}; it must be uint8 in [0, 255] (e.g. `ganzoo sample --format npz`)."
        )
    if array.ndim == 3:
        return array[:, None]
    if array.ndim == 4 and array.shape[1] in CHANNEL_COUNTS:
        return array
    if array.ndim == 4 and array.shape[3] in CHANNEL_COUNTS:
        return array.transpose(0, 3, 1, 2)
    raise UsageError(
        f"'images' in {path} has shape {array.shape}; expected (N, C, H, W), (N, H, W) or (N, H, W, C) "
        "with 1 or 3 channels."
    )
