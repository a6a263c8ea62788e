"""Checkpoints: written atomically, loaded with ``torch.load(weights_only=True)`` only, never unpickled.

A checkpoint holds G, D, the EMA generator, both optimizers, every RNG state, the step, the run config
and a format version. The final ``generator.pt`` of a run holds only the EMA generator and what it takes
to rebuild it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import re
from pathlib import Path
from typing import Any

import torch

from ganzoo.errors import CheckpointError, GanzooError, exception_line
from ganzoo.interfaces import Generator

FORMAT_VERSION = 1
CHECKPOINT_DIR = "checkpoints"
FINAL_GENERATOR = "generator.pt"
CONFIG_FILE = "config.json"
_STEP_FILE = re.compile(r"^step_(\d+)\.pt$")


def atomic_write_bytes(path: Path, write: Any) -> None:
    """Write through ``write(file)`` to a temp file beside ``path``, fsync, then rename over ``path``.

    A crash at any moment leaves either the old file or the new one, never a partial one.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:  # a full disk, a read-only directory: name the file asked for, not the temp file
        _remove_quietly(tmp)
        raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from exc
    except BaseException:
        _remove_quietly(tmp)
        raise
    try:
        directory = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _remove_quietly(path: Path) -> None:
    """Remove a temp file if there is one; on a read-only file system even that fails, and nothing is lost."""
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` atomically; a full disk or a read-only directory leaves the files there untouched."""
    state = {"format_version": FORMAT_VERSION, **state}
    try:
        atomic_write_bytes(path, lambda handle: torch.save(state, handle))
    except (OSError, RuntimeError) as exc:
        # torch.save reports a full disk as a RuntimeError of its zip writer, raised while handling the
        # OSError.
        failure = _os_error_in(exc)
        if failure is None:
            raise
        raise CheckpointError(
            f"cannot write {path}: {failure.strerror or failure}. Nothing was replaced: the checkpoints "
            f"already there are intact. Free some disk space or make {Path(path).parent} writable, then "
            "resume the run."
        ) from exc


def _os_error_in(exc: BaseException | None) -> OSError | None:
    """``exc`` or the OSError it was raised from or while handling, if any."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, OSError):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint safely; every failure becomes a CheckpointError that says what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}.")
    if path.stat().st_size == 0:
        raise CheckpointError(f"checkpoint {path} is empty (0 bytes); it was never completely written.")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        # weights_only refuses pickled objects (anything that could run code) with an UnpicklingError.
        if isinstance(exc, pickle.UnpicklingError) and "GLOBAL" in str(exc):
            kind = "holds objects other than tensors and numbers, and was refused without running them"
        else:
            kind = "is truncated or not a ganzoo checkpoint"
        raise CheckpointError(f"checkpoint {path} {kind} ({type(exc).__name__}).") from None
    if not isinstance(state, dict) or not isinstance(state.get("format_version"), int):
        raise CheckpointError(f"{path} is not a ganzoo checkpoint (no format_version).")
    if state["format_version"] > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has format version {state['format_version']}, newer than this ganzoo understands "
            f"({FORMAT_VERSION}); upgrade ganzoo to read it."
        )
    return state


def checkpoint_path(run_dir: Path, step: int) -> Path:
    return Path(run_dir) / CHECKPOINT_DIR / f"step_{step:06d}.pt"


def list_checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    """(step, path) of the run's checkpoints, oldest first."""
    directory = Path(run_dir) / CHECKPOINT_DIR
    if not directory.is_dir():
        return []
    found = []
    for entry in directory.iterdir():
        match = _STEP_FILE.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry))
    return sorted(found)


def latest_checkpoint(run_dir: Path) -> tuple[dict[str, Any], Path]:
    """The newest checkpoint of a run that loads; a damaged newer one is skipped."""
    state, path, _ = newest_loadable_checkpoint(run_dir)
    return state, path


def newest_loadable_checkpoint(run_dir: Path) -> tuple[dict[str, Any], Path, list[tuple[Path, str]]]:
    """(state, path, skipped): the newest checkpoint that loads, and each newer one that did not, with why."""
    candidates = list_checkpoints(run_dir)
    if not candidates:
        raise CheckpointError(
            f"run directory {run_dir} has no checkpoints to resume from: it stopped before its first "
            f"checkpoint. Start it again with `ganzoo train --out {run_dir} --overwrite` and its options, or "
            "choose another --out."
        )
    skipped: list[tuple[Path, str]] = []
    for _, path in reversed(candidates):
        try:
            return load_checkpoint(path), path, skipped
        except CheckpointError as exc:
            skipped.append((path, str(exc)))
    raise CheckpointError(
        "no loadable checkpoint in " + f"{run_dir}: " + " ".join(reason for _, reason in skipped)
    )


DAMAGED_SUFFIX = ".damaged"  # a checkpoint that does not load is renamed aside, not deleted


def prune_checkpoints(run_dir: Path, keep: int) -> None:
    """Keep the newest ``keep`` checkpoints; also remove temp files that killed writers left behind."""
    for _, path in list_checkpoints(run_dir)[:-keep] if keep > 0 else []:
        path.unlink(missing_ok=True)
    remove_dead_writers_leftovers(run_dir)
    remove_dead_writers_leftovers(Path(run_dir) / CHECKPOINT_DIR)


def is_dead_writers_leftover(path: Path) -> bool:
    """A temp file of :func:`atomic_write_bytes` whose writing process is gone."""
    name = Path(path).name
    if not (name.startswith(".") and ".tmp-" in name):
        return False
    writer = name.rpartition(".tmp-")[2]
    return writer.isdigit() and not _process_alive(int(writer))


def remove_dead_writers_leftovers(directory: Path) -> None:
    directory = Path(directory)
    for leftover in directory.glob(".*.tmp-*") if directory.is_dir() else []:
        if is_dead_writers_leftover(leftover):
            _remove_quietly(leftover)


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists but belongs to someone else
        return True
    return True


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_run_config(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / CONFIG_FILE
    try:
        config = json.loads(path.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{run_dir} is not a ganzoo run directory (no {CONFIG_FILE}).") from None
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"cannot read {path}: {exc}") from None
    if not isinstance(config, dict):
        raise CheckpointError(f"{path} is not a ganzoo run config (it holds a JSON {type(config).__name__}).")
    version = config.get("format_version", 0)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"{run_dir} was written by a newer ganzoo (format version {version}); upgrade ganzoo to use it."
        )
    if not isinstance(config.get("train"), dict):
        raise CheckpointError(
            f"{path} lacks the run's training settings ('train'); it is damaged or not a run's."
        )
    return config


def resolve_generator_file(path: Path) -> Path:
    """A run directory -> its final generator, else its newest checkpoint; a file -> itself."""
    path = Path(path)
    if path.is_dir():
        if (path / FINAL_GENERATOR).is_file():
            return path / FINAL_GENERATOR
        steps = list_checkpoints(path)
        if not steps:
            raise CheckpointError(
                f"{path} holds neither {FINAL_GENERATOR} nor checkpoints/; is it a run directory?"
            )
        return steps[-1][1]
    if not path.exists():
        raise CheckpointError(f"no run directory or checkpoint at {path}.")
    return path


def build_generator_from_state(state: dict[str, Any], source: Path) -> Generator:
    """Rebuild the generator a checkpoint describes, with the EMA weights when it has them."""
    from ganzoo.registry import zoo
    from ganzoo.spec import Hyperparameters

    try:
        model = str(state["model"])
        image_shape = tuple(int(v) for v in state["image_shape"])
        hp_fields = dict(state["hyperparameters"])
        for key in ("generator_betas", "discriminator_betas"):
            if key in hp_fields:
                hp_fields[key] = tuple(hp_fields[key])
        hp = Hyperparameters(**hp_fields)
        hp.validate()
    except (KeyError, TypeError, ValueError, GanzooError) as exc:
        raise CheckpointError(
            f"{source} lacks a usable model name, image shape or hyperparameters ({exception_line(exc)})."
        ) from None
    if model not in zoo().models:
        raise CheckpointError(
            f"{source} holds model {model!r}, which no installed plugin provides; install the plugin that "
            f"provides it (see `ganzoo list`). {zoo().why_missing(model)}".rstrip()
        )
    G, _ = zoo().models.get(model).build(image_shape, hp)
    weights = state.get("ema_generator") or state.get("generator")
    try:
        G.load_state_dict(weights)
    except (RuntimeError, TypeError, AttributeError) as exc:
        raise CheckpointError(
            f"{source}: the weights do not fit model {model!r} at {'x'.join(map(str, image_shape))}: "
            f"{_state_dict_problem(exc)}"
        ) from None
    return G.eval()


def _state_dict_problem(exc: BaseException) -> str:
    """torch's load_state_dict message on one line: its first line only says an error follows."""
    text = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    return text if len(text) <= 300 else text[:297] + "..."


def load_generator(path: str | os.PathLike, device: str | torch.device = "cpu") -> Generator:
    """The EMA generator of a run directory or checkpoint file, in eval mode, on ``device``."""
    file = resolve_generator_file(Path(path))
    state = load_checkpoint(file)
    G = build_generator_from_state(state, file)
    G.checkpoint_sha256 = file_sha256(file)  # type: ignore[attr-defined]
    G.model_name = state["model"]  # type: ignore[attr-defined]
    return G.to(device)
