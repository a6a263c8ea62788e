"""Reference features computed once: a real set's features for one extractor, cached on disk under a key of
what determines them (the exact images, the extractor and its weights' sha256), written atomically and
verified on read; and reference files a user saves with ``--save-stats`` and passes back in place of images.

A reference file is an ``.npz`` with the float32 ``features`` (N, D), their float64 ``mu`` and ``sigma``
(the arrays pytorch-fid's ``--save-stats`` writes, so pytorch-fid can read the file) and ``ganzoo_reference``,
a JSON string: format, extractor, its sha256, the images' sha256, n, the source's description, the
extractor's conversions and the features' sha256 that is checked on every read.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganzoo.console import warn
from ganzoo.errors import UsageError

FORMAT = 1
META_KEY = "ganzoo_reference"
CACHE_SUBDIR = "reference-features"
CACHE_ENV = "GANZOO_REFERENCE_CACHE"  # a directory to cache reference features in instead (tests use it)


@dataclass(frozen=True)
class ReferenceFeatures:
    """A real set as features: what :class:`~ganzoo.metrics.fid.FidEvaluator` needs instead of its images."""

    features: torch.Tensor  # float32 (N, D)
    extractor: str
    extractor_sha256: str | None
    images_sha256: str | None  # of the uint8 images the features come from
    description: str
    conversions: tuple[str, ...] = field(default=())  # what the extractor did to those images

    def metadata(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "extractor": self.extractor,
            "extractor_sha256": self.extractor_sha256,
            "images_sha256": self.images_sha256,
            "n": int(self.features.shape[0]),
            "num_features": int(self.features.shape[1]),
            "description": self.description,
            "conversions": list(self.conversions),
            "features_sha256": array_sha256(self.features.numpy()),
        }


def array_sha256(array: np.ndarray) -> str:
    digest = hashlib.sha256(repr((array.dtype.str, array.shape)).encode())
    digest.update(np.ascontiguousarray(array).tobytes())
    return "sha256:" + digest.hexdigest()


def images_sha256(images: torch.Tensor) -> str:
    """The identity of a uint8 image set: its shape and every pixel."""
    return array_sha256(images.contiguous().numpy())


def save_reference(path: Path, reference: ReferenceFeatures, *, overwrite: bool = False) -> None:
    """Write ``reference`` to ``path`` atomically: a temporary file beside it, renamed into place."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise UsageError(f"{path} exists; choose another file for the statistics (nothing was overwritten).")
    path.parent.mkdir(parents=True, exist_ok=True)
    features = reference.features.to(torch.float64).numpy()
    sigma = np.cov(features, rowvar=False) if len(features) > 1 else np.zeros((features.shape[1],) * 2)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            np.savez(
                out,
                features=reference.features.numpy(),
                mu=features.mean(axis=0),
                sigma=sigma,
                **{META_KEY: np.array(json.dumps(reference.metadata()))},
            )
            out.flush()
            os.fsync(out.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp makes it private; a saved file is an ordinary file
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def is_reference_file(path: Path) -> bool:
    """Whether ``path`` is an .npz that holds ganzoo reference features (not images)."""
    if Path(path).suffix.lower() != ".npz" or not Path(path).is_file():
        return False
    try:
        with np.load(path, allow_pickle=False) as archive:
            return META_KEY in archive.files
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, AttributeError):
        return False


def load_reference(path: Path) -> ReferenceFeatures:
    """The reference in ``path``, after checking its format and that its features are the ones recorded."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            meta = json.loads(str(archive[META_KEY][()]))
            features = np.asarray(archive["features"])
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
        raise UsageError(f"{path} is not a readable ganzoo statistics file: {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise UsageError(f"{path} is not a ganzoo statistics file of format {FORMAT}.")
    if (
        features.dtype != np.float32
        or features.ndim != 2
        or meta.get("features_sha256") != array_sha256(features)
    ):
        raise UsageError(
            f"{path}: its features do not match the sha256 recorded with them (a damaged or edited file); "
            "save the statistics again with --save-stats."
        )
    try:
        return ReferenceFeatures(
            torch.from_numpy(features.copy()),
            str(meta["extractor"]),
            meta.get("extractor_sha256"),
            meta.get("images_sha256"),
            str(meta.get("description", path)),
            tuple(str(line) for line in meta.get("conversions", ())),
        )
    except (KeyError, TypeError) as exc:
        raise UsageError(
            f"{path}: its metadata lacks {exc}; save the statistics again with --save-stats."
        ) from None


def cache_root() -> Path:
    from ganzoo.datasets.base import cache_dir

    override = os.environ.get(CACHE_ENV, "").strip()
    return Path(override).expanduser() if override else cache_dir(CACHE_SUBDIR)


def cache_path(images_digest: str, extractor: str, extractor_sha256: str) -> Path:
    key = hashlib.sha256(
        json.dumps([FORMAT, images_digest, extractor, extractor_sha256]).encode()
    ).hexdigest()
    return cache_root() / f"{extractor}-{key[:32]}.npz"


def cached_reference(
    images: torch.Tensor, extractor: str, extractor_sha256: str | None, make: Callable[[], ReferenceFeatures]
) -> tuple[ReferenceFeatures, bool]:
    """The reference of ``images`` from the cache, or ``make()`` and stored; True when it came from the cache.

    Extractors without a weights hash are not cached (nothing would say when their features change).
    """
    if extractor_sha256 is None:
        return make(), False
    digest = images_sha256(images)
    path = cache_path(digest, extractor, extractor_sha256)
    if path.is_file():
        try:
            reference = load_reference(path)
            if (reference.images_sha256, reference.extractor_sha256) == (digest, extractor_sha256):
                return reference, True
        except UsageError as exc:
            warn(f"ignored a damaged cached reference ({exc}); computing it again.")
    reference = make()
    try:
        save_reference(path, reference, overwrite=True)
    except OSError as exc:
        warn(f"could not cache the reference features in {path.parent} ({exc.strerror or exc}).")
    return reference, False
