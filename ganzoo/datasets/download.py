"""Getting dataset files onto disk safely: one verified download (temporary file, checksum, then rename) and
a tar extraction that refuses any member that could land outside its target directory.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import ganzoo
from ganzoo.console import err_console, plain
from ganzoo.errors import DatasetError

DOWNLOAD_TIMEOUT_S = 60.0  # per network operation (connect, each read), not for the whole file
CHUNK_BYTES = 1 << 20
MAX_UNKNOWN_SIZE = 4 << 30  # the most bytes taken for a file of unknown size


def size_limit(size: int | None) -> int:
    """The most bytes a download of a ``size``-byte file may bring: its size plus a small margin (a mirror
    may recompress), so a server sending far more is stopped at once instead of filling the disk."""
    return MAX_UNKNOWN_SIZE if size is None else size + max(size // 100, 64 << 10)


USER_AGENT = f"ganzoo/{ganzoo.__version__} (python-urllib)"  # some mirrors refuse urllib's default agent


def parse_checksum(checksum: str) -> tuple[str, str]:
    """``"md5:HEX"`` or ``"sha256:HEX"`` (a bare hex digest is told apart by its length) -> (algorithm, hex)."""
    algorithm, sep, digest = checksum.partition(":")
    if not sep:
        algorithm, digest = {32: "md5", 64: "sha256"}.get(len(checksum), ""), checksum
    if algorithm not in ("md5", "sha256") or not digest:
        raise ValueError(f"checksum must be 'md5:HEX' or 'sha256:HEX', got {checksum!r}")
    return algorithm, digest.lower()


def file_digest(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def checksum_mismatch(path: Path, checksum: str) -> str | None:
    """None when ``path`` matches ``checksum``, else a sentence saying what was expected and found."""
    algorithm, expected = parse_checksum(checksum)
    actual = file_digest(path, algorithm)
    if actual == expected:
        return None
    return f"its {algorithm} is {actual}, expected {expected}"


@contextlib.contextmanager
def progress_bar(
    description: str, total: int | None, enabled: bool, unit: str = "bytes"
) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on stderr counting ``unit`` ("bytes" or "files"); yields ``advance(n)``."""
    # Imported here: rich.progress takes a noticeable part of `ganzoo list`'s start-up otherwise.
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    if unit == "bytes":
        counters: tuple = (DownloadColumn(), TransferSpeedColumn())
    else:
        counters = (MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(
        TextColumn("{task.description}"), BarColumn(), *counters, console=err_console, disable=not enabled
    ) as bar:
        task = bar.add_task(plain(description), total=total)  # a file or folder name, not markup
        yield lambda n: bar.advance(task, n)


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable; not every platform lets a directory be opened.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _fetch_once(
    url: str, temporary: Path, checksum: str, progress: bool, timeout: float, size: int | None = None
) -> None:
    """Stream ``url`` into ``temporary`` and verify it; raises DatasetError saying what went wrong. At most
    :func:`size_limit` bytes are taken, and fewer if the server announces fewer."""
    limit = size_limit(size)
    algorithm, expected = parse_checksum(checksum)
    digest = hashlib.new(algorithm)
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response, open(temporary, "wb") as out:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            if total is not None and total > limit:
                what = f"a file of {size} bytes" if size is not None else f"a limit of {limit} bytes"
                raise DatasetError(f"{url}: the server announces {total} bytes for {what}; refused")
            received = 0
            name = Path(urllib.parse.urlsplit(url).path).name
            with progress_bar(f"downloading {name}", total, progress) as advance:
                for chunk in iter(lambda: response.read(CHUNK_BYTES), b""):
                    allowed = limit if total is None else min(limit, total)
                    if received + len(chunk) > allowed:
                        what = f"a file of {size} bytes" if size is not None else f"{allowed} bytes announced"
                        raise DatasetError(
                            f"{url}: the server sent more than {allowed} bytes ({what}); stopped and refused"
                        )
                    out.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    advance(len(chunk))
            if total is not None and received != total:
                raise DatasetError(f"{url}: the connection ended after {received} of {total} bytes")
            out.flush()
            os.fsync(out.fileno())
    except urllib.error.HTTPError as exc:
        raise DatasetError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise DatasetError(f"{url}: cannot connect ({exc.reason})") from None
    except TimeoutError:
        raise DatasetError(f"{url}: no data for {timeout:g} s, gave up") from None
    except (ConnectionError, http.client.IncompleteRead, http.client.HTTPException) as exc:
        raise DatasetError(f"{url}: the download broke off ({type(exc).__name__}: {exc})") from None
    actual = digest.hexdigest()
    if actual != expected:
        raise DatasetError(
            f"{url}: checksum mismatch, {algorithm} {actual} instead of {expected} "
            "(a damaged download or a changed file on the mirror); the file was removed"
        )


def download(
    urls: Sequence[str],
    destination: Path,
    checksum: str,
    *,
    progress: bool = True,
    timeout: float = DOWNLOAD_TIMEOUT_S,
    size: int | None = None,
) -> Path:
    """Download the first of the mirror ``urls`` that works to ``destination``, verified against ``checksum``.

    The bytes go to a temporary file beside ``destination`` that is fsynced and renamed into place only
    after the checksum matches, so ``destination`` is either complete and verified or absent; a failed or
    interrupted download leaves nothing behind. Raises DatasetError listing what went wrong per mirror.
    With ``size`` (the file's bytes, when known) a server that sends more is stopped soon after it.
    """
    if not urls:
        raise DatasetError(f"no download address is known for {destination.name}")
    destination.parent.mkdir(parents=True, exist_ok=True)
    failures = []
    for url in urls:
        fd, name = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=".partial", dir=destination.parent)
        os.close(fd)
        temporary = Path(name)
        try:
            _fetch_once(url, temporary, checksum, progress, timeout, size)
            os.replace(temporary, destination)
            _fsync_directory(destination.parent)
            return destination
        except DatasetError as exc:
            failures.append(str(exc))
        finally:
            temporary.unlink(missing_ok=True)
    raise DatasetError(f"could not download {destination.name}: " + "; ".join(failures) + ".")


def _refusal(member: tarfile.TarInfo, staging: Path) -> str | None:
    """Why ``member`` must not be extracted into ``staging``, or None when it is a plain file or directory."""
    name = member.name
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "has an absolute path"
    if ".." in Path(name).parts or ".." in name.replace("\\", "/").split("/"):
        return "climbs out of the target directory with '..'"
    if member.issym() or member.islnk():
        return f"is a link (to {member.linkname!r})"
    if member.isdev():
        return "is a device or a FIFO"
    if not (member.isreg() or member.isdir()):
        return "is not a regular file or directory"
    destination = (staging / name).resolve()
    if not destination.is_relative_to(staging.resolve()):
        return "would land outside the target directory"
    return None


def safe_extract_tar(archive: Path, target_dir: Path) -> list[Path]:
    """Extract the regular files and directories of ``archive`` into ``target_dir``, all or nothing.

    A member with an absolute path or ``..``, a link, a device or anything else that is not a plain file or
    directory makes the whole extraction fail with a DatasetError naming it. Members are extracted into a
    staging directory inside ``target_dir`` and moved into place only once every one of them succeeded; a
    top-level entry that already exists in ``target_dir`` is never overwritten. Returns the moved entries.
    """
    target_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".extract-", dir=target_dir))
    try:
        try:
            with tarfile.open(archive) as tar:
                for member in tar:
                    refusal = _refusal(member, staging)
                    if refusal:
                        raise DatasetError(
                            f"refusing to extract {archive}: member {member.name!r} {refusal}. The archive is "
                            "damaged or malicious; nothing was extracted."
                        )
                    destination = staging / member.name
                    if member.isdir():
                        destination.mkdir(parents=True, exist_ok=True)
                        continue
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    source = tar.extractfile(member)
                    assert source is not None  # a regular file always has content
                    with source, open(destination, "wb") as out:
                        shutil.copyfileobj(source, out, CHUNK_BYTES)
        except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
            if isinstance(exc, OSError) and exc.errno is not None:
                raise  # a full disk or a permission problem, not a damaged archive
            raise DatasetError(
                f"{archive} is not a readable tar archive ({exc}); remove it and retry."
            ) from None
        entries = sorted(staging.iterdir())
        for entry in entries:
            if (target_dir / entry.name).exists():
                raise DatasetError(
                    f"{target_dir / entry.name} already exists; remove it to extract {archive} again."
                )
        for entry in entries:
            os.replace(entry, target_dir / entry.name)
        return [target_dir / entry.name for entry in entries]
    finally:
        shutil.rmtree(staging, ignore_errors=True)
