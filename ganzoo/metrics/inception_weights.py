"""The standard FID InceptionV3 weights (``pt_inception-2015-12-05-6726825d.pth``, the file pytorch-fid and
torch-fidelity use), downloaded once into ganzoo's cache exactly as datasets are: verified against a pinned
sha256 before it is renamed into place, never downloaded with ``--no-download``, and checked again on use.
"""

from __future__ import annotations

import os
from pathlib import Path

from ganzoo.console import warn
from ganzoo.errors import GanzooError, UsageError

WEIGHTS_FILENAME = "pt_inception-2015-12-05-6726825d.pth"
# The sha256 that pytorch-fid's and torch-fidelity's file names abbreviate (torch.hub's hash prefix).
WEIGHTS_SHA256 = "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2"
WEIGHTS_BYTES = 95_628_359
WEIGHTS_URLS = (  # mirrors of the same file, tried in turn
    "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth",
    "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth",
)
CACHE_SUBDIR = "weights"


def cached_weights_path() -> Path:
    from ganzoo.datasets.base import cache_dir

    return cache_dir(CACHE_SUBDIR) / WEIGHTS_FILENAME


def fetch_inception_weights(*, download: bool = True, progress: bool = True) -> Path:
    """The verified weights file in the cache, downloading it first if it is not there and ``download``."""
    from ganzoo.datasets.download import checksum_mismatch
    from ganzoo.datasets.download import download as fetch

    path = cached_weights_path()
    checksum = "sha256:" + WEIGHTS_SHA256
    if path.is_file():
        problem = checksum_mismatch(path, checksum)
        if problem is None:
            return path
        if not download:
            raise GanzooError(
                f"the cached InceptionV3 weights {path} are damaged ({problem}) and --no-download forbids "
                "fetching them again; delete the file or allow the download."
            )
        warn(f"the cached InceptionV3 weights {path} are damaged ({problem}); downloading them again.")
        path.unlink()
    if not download:
        raise UsageError(
            f"the InceptionV3 weights are not in the cache ({path}) and --no-download forbids fetching them; "
            "pass a local file with --inception-weights PATH or allow the download."
        )
    try:
        return fetch(list(WEIGHTS_URLS), path, checksum, progress=progress, size=WEIGHTS_BYTES)
    except GanzooError as exc:
        raise GanzooError(
            f"could not download the InceptionV3 weights ({exc}); on a machine without a network, copy "
            f"{WEIGHTS_FILENAME} here and pass it with --inception-weights PATH."
        ) from None


def user_weights(given: Path | None) -> Path | None:
    """The weights file the user named: ``--inception-weights``, else ``$GANZOO_INCEPTION_WEIGHTS``, else None."""
    from ganzoo.metrics.inception import WEIGHTS_ENV

    if given is not None:
        return Path(given).expanduser()
    from_env = os.environ.get(WEIGHTS_ENV, "").strip()
    return Path(from_env).expanduser() if from_env else None


def resolve_inception_weights(given: Path | None, *, download: bool = True, progress: bool = True) -> Path:
    """The user's weights file (:func:`user_weights`) or the standard file from the cache, fetched if allowed."""
    return user_weights(given) or fetch_inception_weights(download=download, progress=progress)
