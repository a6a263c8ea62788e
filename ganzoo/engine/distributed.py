"""Training on several processes with torch.distributed: torchrun starts one process (rank) per GPU, and
this module turns its environment into a process group, a device per rank and the few collectives the
Trainer needs, so that a single-process run never touches torch.distributed."""

from __future__ import annotations

import atexit
import contextlib
import datetime
import importlib
import inspect
import os
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from ganzoo.errors import GanzooError, UsageError

T = TypeVar("T")

TIMEOUT_ENV = "GANZOO_DISTRIBUTED_TIMEOUT"  # seconds a rank waits for the others before giving up
DEFAULT_TIMEOUT_SECONDS = 300.0  # longer than rank 0 alone ever works (a checkpoint, a sample grid)
REQUIRED_ENV = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")  # what torchrun sets

_owns_process_group = False  # this module created the group, so it also destroys it
_collective_failed = False  # after a failed collective, destroying the group could block: skip it


class DistributedError(GanzooError):
    """A rank lost contact with the others: one of them crashed, was killed or stopped responding."""


def launched_ranks() -> int:
    """The number of processes torchrun started (its WORLD_SIZE), 1 outside torchrun."""
    raw = os.environ.get("WORLD_SIZE", "1")
    try:
        world_size = int(raw)
    except ValueError:
        raise UsageError(
            f"WORLD_SIZE={raw!r} is not a number; start ganzoo with torchrun, which sets it."
        ) from None
    if world_size < 1:
        raise UsageError(f"WORLD_SIZE={world_size} must be at least 1.")
    return world_size


def is_distributed() -> bool:
    """True inside a process group of two or more ranks."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def backend() -> str | None:
    """The process group's backend (nccl or gloo), None outside one."""
    return str(dist.get_backend()) if is_distributed() else None


def is_main_process() -> bool:
    """Rank 0, the one process that writes files and prints."""
    return rank() == 0


def timeout() -> datetime.timedelta:
    """How long a collective waits for a rank that does not answer; GANZOO_DISTRIBUTED_TIMEOUT overrides."""
    raw = os.environ.get(TIMEOUT_ENV, "")
    try:
        seconds = float(raw) if raw.strip() else DEFAULT_TIMEOUT_SECONDS
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise UsageError(f"{TIMEOUT_ENV}={raw!r} must be a positive number of seconds.")
    return datetime.timedelta(seconds=seconds)


def rank_device(requested: str, local_rank: int) -> torch.device:
    """The device of one rank: GPU number LOCAL_RANK of its machine, or the CPU."""
    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cpu":
        return torch.device("cpu")
    if requested != "cuda":
        raise UsageError(
            f"--device {requested} cannot be used under torchrun: each rank takes GPU number LOCAL_RANK "
            f"(--device cuda or auto; choose the GPUs with CUDA_VISIBLE_DEVICES) or the CPU (--device cpu)."
        )
    if not torch.cuda.is_available():
        raise UsageError("--device cuda was asked for, but CUDA is not available here; use --device cpu.")
    if local_rank >= torch.cuda.device_count():
        raise UsageError(
            f"torchrun started rank {local_rank} on this machine, but only {torch.cuda.device_count()} GPUs are "
            f"visible; pass --nproc-per-node {torch.cuda.device_count()} or fewer."
        )
    return torch.device("cuda", local_rank)


def setup(requested_device: str) -> tuple[int, int, torch.device | None]:
    """Join the process group torchrun's environment describes; (rank, world size, this rank's device).

    Outside torchrun (or with one process) this returns (0, 1, None) and does nothing. A group that the
    caller already initialised is used as it is. The backend is nccl on CUDA and gloo on the CPU.
    """
    if is_distributed():
        local_rank = int(os.environ.get("LOCAL_RANK", dist.get_rank() % max(torch.cuda.device_count(), 1)))
        return dist.get_rank(), dist.get_world_size(), rank_device(requested_device, local_rank)
    if launched_ranks() == 1:
        return 0, 1, None
    missing = [name for name in REQUIRED_ENV if name not in os.environ]
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        raise UsageError(
            f"WORLD_SIZE is {launched_ranks()} but {', '.join(missing)} {verb} not set; start distributed "
            f"training with torchrun, e.g. `torchrun --nproc-per-node 2 -m ganzoo train ...`."
        )
    device = rank_device(requested_device, int(os.environ["LOCAL_RANK"]))
    options: dict[str, Any] = {"timeout": timeout()}
    if device.type == "cuda":
        torch.cuda.set_device(device)
        if "device_id" in inspect.signature(dist.init_process_group).parameters:
            options["device_id"] = device  # NCCL connects eagerly and knows its GPU
    global _owns_process_group
    try:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", **options)
    except (RuntimeError, ValueError) as exc:
        raise DistributedError(
            f"could not join the process group at {os.environ['MASTER_ADDR']}:{os.environ['MASTER_PORT']} "
            f"({_first_line(exc)}). Check that every machine runs the same torchrun command and can reach "
            f"the rendezvous endpoint."
        ) from None
    _owns_process_group = True
    atexit.register(teardown)  # a process that exits inside a live gloo group aborts ("terminate called")
    return dist.get_rank(), dist.get_world_size(), device


def teardown() -> None:
    """Leave the process group this module created (after a failed collective the process just exits)."""
    global _owns_process_group
    if _owns_process_group and dist.is_initialized():
        if not _collective_failed:
            dist.destroy_process_group()
        # gloo's worker threads release the tensors of finished (or failed) collectives, which needs the GIL;
        # one still waiting for it when the interpreter finalizes aborts the process with "terminate called
        # without an active exception" (1 to 5 runs in 15 before this pause; pytorch/pytorch#179291). The pause
        # releases the GIL to them.
        time.sleep(0.05)
    _owns_process_group = False


def batch_shard(batch_size: int, rank: int, world_size: int) -> slice:
    """This rank's slice of every global batch: rank r takes items [r * B/W, (r + 1) * B/W)."""
    if batch_size % world_size:
        raise UsageError(
            f"the batch size {batch_size} cannot be split evenly over {world_size} processes: it is the global "
            f"batch, of which each process takes an equal share. Pass --batch-size with a multiple of {world_size}."
        )
    per_rank = batch_size // world_size
    return slice(rank * per_rank, (rank + 1) * per_rank)


# -- rank 0 does, everyone learns ------------------------------------------------------------------------
def raised_on_every_rank(exc: BaseException) -> BaseException:
    """Mark ``exc`` as raised identically by every rank: the CLI prints it on rank 0 only."""
    exc.raised_on_every_rank = True  # type: ignore[attr-defined]
    return exc


def _rebuild_error(module: str, name: str, message: str, exit_code: int) -> GanzooError:
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        cls = GanzooError
    if not (isinstance(cls, type) and issubclass(cls, GanzooError)):
        cls = GanzooError
    error = cls.__new__(cls)  # subclasses' __init__ take other arguments; the message is all we need
    Exception.__init__(error, message)
    error.exit_code = exit_code
    return error  # type: ignore[return-value]


def _broadcast(value: Any) -> Any:
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def on_main(work: Callable[[], T]) -> T:
    """Run ``work`` on rank 0 only and hand its result (or its error) to every rank.

    Used for what must happen once and be known everywhere: choosing and creating the run directory,
    reading the run's config and checkpoint (other machines need not share rank 0's file system).
    """
    return _on_main(work, share_result=True)


def main_first(work: Callable[[], T]) -> T:
    """Run ``work`` on rank 0, then on the other ranks (rank 0 downloads a dataset, the others find it)."""
    result = _on_main(work, share_result=False)
    return result if rank() == 0 else work()


def _on_main(work: Callable[[], T], share_result: bool) -> T:
    if not is_distributed():
        return work()
    if dist.get_rank() == 0:
        try:
            result = work()
        except Exception as exc:
            _broadcast(("error", *_describe_error(exc)))
            raised_on_every_rank(exc)
            raise
        _broadcast(("ok", result if share_result else None))
        return result
    outcome = _broadcast(None)
    if outcome[0] == "error":
        raise raised_on_every_rank(_rebuild_error(*outcome[1:]))
    return outcome[1]


def _describe_error(exc: BaseException) -> tuple[str, str, str, int]:
    if isinstance(exc, GanzooError):
        return type(exc).__module__, type(exc).__qualname__, str(exc), exc.exit_code
    return "ganzoo.errors", "GanzooError", f"rank 0 failed: {type(exc).__name__}: {exc}", 1


# -- the training step --------------------------------------------------------------------------------
def wrap_for_training(module: nn.Module, device: torch.device, sync_batchnorm: bool) -> tuple[nn.Module, str]:
    """``module`` in DistributedDataParallel, and how its batch norm behaves: "none", "synced" or "per-rank".

    The module's parameters stay the same objects (optimizers and state dicts keep working on the raw
    module); with SyncBatchNorm the batch-norm layers are replaced in place by ones with the same state.
    """
    has_batchnorm = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())
    batchnorm = "none"
    if has_batchnorm:
        # SyncBatchNorm has no CPU kernel: gloo runs keep per-rank statistics whatever the spec asks.
        batchnorm = "synced" if sync_batchnorm and device.type != "cpu" else "per-rank"
    if batchnorm == "synced":
        converted = nn.SyncBatchNorm.convert_sync_batchnorm(module)
        assert converted is module  # G and D are never a bare BatchNorm layer
    options: dict[str, Any] = {"device_ids": [device.index]} if device.type == "cuda" else {}
    # Buffers (batch-norm running statistics) are not broadcast from rank 0 at every forward: they are
    # identical across ranks with synced batch norm and rank-local by choice without it, and the
    # in-place broadcast would break the backward of D called on real and fake batches in turn.
    if "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters:
        options["forward_sync_buffers"] = False
    else:
        options["broadcast_buffers"] = False
    return DistributedDataParallel(module, **options), batchnorm


@contextlib.contextmanager
def rank_random_stream(device: torch.device, seed: int, rank: int, step: int, phase: int) -> Iterator[None]:
    """Random draws inside (dropout, a penalty's interpolation) come from a stream of this rank's own.

    The stream is seeded from (seed, rank, step, phase), so it needs no checkpointing: a resumed run
    draws the same numbers. The default stream outside, which every rank keeps identical for the
    latent vectors, is left where it was.
    """
    entropy = [seed & 0xFFFF_FFFF_FFFF_FFFF, rank, step, phase]
    derived = int(np.random.SeedSequence(entropy).generate_state(1, np.uint64)[0])
    cuda_devices = [device.index] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda_devices, device_type="cuda"):
        torch.random.default_generator.manual_seed(derived)
        for index in cuda_devices:
            torch.cuda.default_generators[index].manual_seed(derived)
        yield


def average_(tensor: torch.Tensor) -> torch.Tensor:
    """Replace ``tensor`` on every rank by its mean over the ranks."""
    dist.all_reduce(tensor)
    return tensor.div_(dist.get_world_size())


def agree(first_bad_step: torch.Tensor, stop_signal: int | None) -> int | None:
    """Make every rank see the earliest non-finite step of any rank (in place) and any rank's stop signal.

    A signal reaches the ranks at different steps; agreeing at the same step lets them stop together.
    """
    never = torch.iinfo(torch.long).max
    earliest = torch.where(first_bad_step > 0, first_bad_step, never)
    flags = torch.stack((-earliest, torch.tensor(stop_signal or 0, device=first_bad_step.device)))
    dist.all_reduce(flags, op=dist.ReduceOp.MAX)
    first_bad_step.copy_(torch.where(flags[0] == -never, 0, -flags[0]))
    return int(flags[1].item()) or None


# -- failures -------------------------------------------------------------------------------------------
def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


_LOST_CONTACT_MARKERS = ("gloo", "nccl", "connection closed", "connection reset", "timed out", "broken pipe")


def is_collective_failure(exc: BaseException) -> bool:
    if isinstance(exc, getattr(dist, "DistError", ())):
        return True
    return isinstance(exc, RuntimeError) and any(m in str(exc).lower() for m in _LOST_CONTACT_MARKERS)


@contextlib.contextmanager
def explain_collective_failures(resume_hint: str = "") -> Iterator[None]:
    """Turn a failed collective (another rank died or stopped answering) into a DistributedError."""
    try:
        yield
    except Exception as exc:
        if not (is_distributed() and is_collective_failure(exc)):
            raise
        global _collective_failed
        _collective_failed = True
        seconds = timeout().total_seconds()
        raise DistributedError(
            f"rank {dist.get_rank()} of {dist.get_world_size()} lost contact with the other ranks "
            f"({_first_line(exc)}). Another rank has crashed, been killed or stopped responding; its own error "
            f"comes first in torchrun's output. A rank that stops answering is given up on after {seconds:g} s "
            f"({TIMEOUT_ENV}). {resume_hint}".strip()
        ) from None
