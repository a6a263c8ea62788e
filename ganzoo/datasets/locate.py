"""Where a downloadable dataset's files are: found in the local search directories, or fetched into the user
cache with a verified download. Offline, the error lists every place looked and how to provide the files.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ganzoo.datasets.base import DATA_DIR_ENV, DatasetOptions, cache_dir, search_dirs
from ganzoo.datasets.download import download
from ganzoo.errors import DatasetError


@dataclass(frozen=True)
class RemoteFile:
    """A file as its publisher distributes it."""

    filename: str  # the published name, e.g. "train-images-idx3-ubyte.gz"
    checksum: str  # "md5:HEX" or "sha256:HEX" of the published file
    local_names: tuple[str, ...] = ()  # other names accepted on disk, e.g. the uncompressed file
    size: int | None = None  # bytes of the published file, when known: a download stops soon after it

    @property
    def names(self) -> tuple[str, ...]:
        return (self.filename, *self.local_names)


def candidate_dirs(dataset: str, options: DatasetOptions, layouts: Sequence[str] = ()) -> list[Path]:
    """The search directories in order, each followed by its ``layouts`` subdirectories (e.g. torchvision's
    ``MNIST/raw``), without repeats."""
    dirs: list[Path] = []
    for directory in search_dirs(dataset, options):
        for candidate in (directory, *(directory / layout for layout in layouts)):
            if candidate not in dirs:
                dirs.append(candidate)
    return dirs


def find_local(names: Sequence[str], dirs: Sequence[Path]) -> Path | None:
    """The first existing file called one of ``names`` in the first directory that has one."""
    for directory in dirs:
        for name in names:
            path = directory / name
            if path.is_file():
                return path
    return None


def describe(file: RemoteFile) -> str:
    return file.filename + (f" (or {', '.join(file.local_names)})" if file.local_names else "")


def how_to_provide(dataset: str, what: str, dirs: Sequence[Path]) -> str:
    """The end of a missing-files error: every directory searched, and the ways to point ganzoo at the files."""
    looked = "".join(f"\n  - {d}" for d in dirs)
    return (
        f"Looked for {what} in:{looked}\n"
        f"Put the files in a directory and pass --data-dir DIR (or set {DATA_DIR_ENV}=DIR), "
        f"or copy them to {cache_dir(dataset)}."
    )


def locate(
    dataset: str,
    file: RemoteFile,
    mirrors: Sequence[str],
    options: DatasetOptions,
    layouts: Sequence[str] = (),
) -> Path:
    """A local path of ``file``: found in the search directories, else downloaded (when ``options.download``)
    from the first working mirror into the user cache, verified against the file's checksum."""
    dirs = candidate_dirs(dataset, options, layouts)
    found = find_local(file.names, dirs)
    if found is not None:
        return found
    if not options.download:
        raise DatasetError(
            f"dataset {dataset!r} needs {file.filename}, which is not on this machine and downloads are off "
            f"(--no-download). {how_to_provide(dataset, describe(file), dirs)} Or allow the download."
        )
    urls = [mirror.rstrip("/") + "/" + file.filename for mirror in mirrors]
    try:
        return download(
            urls, cache_dir(dataset) / file.filename, file.checksum, progress=options.progress, size=file.size
        )
    except DatasetError as exc:
        raise DatasetError(
            f"dataset {dataset!r}: {exc} {how_to_provide(dataset, describe(file), dirs)}"
        ) from None
