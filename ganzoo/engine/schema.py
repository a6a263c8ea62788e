"""What a run's files may hold, checked in one place before anything uses them: config.json, each
metrics.jsonl record, and every value a checkpoint brings (weights, optimizer state, data order, EMA, RNG
states). A file a user edited or crafted ends in one ``Error:`` line naming the file, the field and the
value expected, never in a traceback or in torch's unchecked kernels (fused Adam trusts its state shapes)."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganzoo.errors import CheckpointError

MAX_SEED = 2**32 - 1  # what --seed accepts: torch and numpy take seeds up to 2**32 - 1
MAX_GRID_SIZE = 4096  # images in a sample grid
MAX_IMAGE_SIZE = 4096  # what --image-size accepts
MAX_COUNT = 2**62  # steps and intervals: any count a run can reach, and no overflow in torch


def _shown(value: Any) -> str:
    """A short description of ``value`` for an error message."""
    if isinstance(value, torch.Tensor):
        return f"a {value.dtype} tensor of shape {list(value.shape)}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def refuse(path: Path | str, field: str, expected: str, value: Any = ..., note: str = "") -> CheckpointError:
    """The one error of this module: FILE: FIELD must be EXPECTED, got VALUE."""
    got = "" if value is ... else f", got {_shown(value)}"
    return CheckpointError(
        f"{path}: {field} must be {expected}{got}; {note or 'the file was edited or damaged'}."
    )


# -- value checks: (test, what is expected) ------------------------------------------------------------------

Check = tuple[Callable[[Any], bool], str]


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def integer(low: int, high: int = MAX_COUNT) -> Check:
    return (lambda v: is_int(v) and low <= v <= high), f"an integer from {low} to {high}"


def text() -> Check:
    return (lambda v: isinstance(v, str) and v != ""), "a non-empty string"


def flag() -> Check:
    return (lambda v: isinstance(v, bool)), "true or false"


def optional(check: Check) -> Check:
    test, expected = check
    return (lambda v: v is None or test(v)), f"null or {expected}"


def string_list() -> Check:
    return (lambda v: isinstance(v, list) and all(isinstance(i, str) for i in v)), "a list of strings"


def fraction() -> Check:
    return (lambda v: is_number(v) and 0.0 <= v < 1.0), "a number in [0, 1)"


def channel_count() -> Check:
    return (lambda v: v is None or (is_int(v) and v in (1, 3))), "null, 1 or 3"


# config.json's "train": every TrainConfig field (tests/test_reliability_schema.py checks none is missing).
TRAIN_FIELDS: dict[str, Check] = {
    "model": text(),
    "dataset": text(),
    "steps": integer(1),
    "seed": integer(0, MAX_SEED),
    "out": optional(text()),
    "overrides": string_list(),
    "augment": string_list(),
    "batch_size": optional(integer(1, 2**31 - 1)),
    "device": text(),
    "ema": flag(),
    "ema_decay": fraction(),
    "log_every": integer(1),
    "sample_every": integer(0),
    "checkpoint_every": integer(0),
    "keep_checkpoints": integer(0),
    "grid_size": integer(1, MAX_GRID_SIZE),
    "compile": flag(),
    "channels_last": optional(flag()),
    "amp": optional(flag()),
    "progress": flag(),
    "data_dir": optional(text()),
    "image_size": optional(integer(4, MAX_IMAGE_SIZE)),
    "channels": channel_count(),
    "strict": flag(),
    "download": flag(),
}
# What decides the run itself: without them a resumed run would silently become another run (a missing
# model would become dcgan). The rest fall back to their defaults, as in runs of older versions.
REQUIRED_TRAIN_FIELDS = (
    "model",
    "dataset",
    "seed",
    "overrides",
    "batch_size",
    "ema",
    "ema_decay",
    "grid_size",
    "image_size",
    "channels",
)
# config.json's other sections that ganzoo reads back, when present.
RUN_FIELDS: dict[str, Check] = {
    "model": text(),
    "image_shape": (
        lambda v: isinstance(v, list) and len(v) == 3 and all(is_int(s) and s > 0 for s in v),
        "a list of 3 positive integers",
    ),
    "bf16_autocast": optional(flag()),
    "placement": (
        lambda v: (
            isinstance(v, dict)
            and all(
                v.get(k) is None or isinstance(v.get(k), bool) for k in ("bf16_autocast", "channels_last")
            )
        ),
        "an object whose bf16_autocast and channels_last are true, false or null",
    ),
}


def check_fields(values: Mapping[str, Any], schema: dict[str, Check], path: Path, prefix: str) -> None:
    for name, (test, expected) in schema.items():
        if name in values and not test(values[name]):
            raise refuse(path, f"{prefix}{name!r}", expected, values[name])


def check_run_config(config: Mapping[str, Any], path: Path) -> None:
    """config.json as read back for a resume (``read_run_config`` has checked its framing)."""
    check_fields(config, RUN_FIELDS, path, "")
    train = config["train"]
    for name in REQUIRED_TRAIN_FIELDS:
        if name not in train:
            test, expected = TRAIN_FIELDS[name]
            raise refuse(path, f"'train' {name!r}", f"present ({expected})", note="it is missing")
    check_fields(train, TRAIN_FIELDS, path, "'train' ")


METRIC_NUMBERS = ("d_loss", "g_loss", "d_grad_norm", "g_grad_norm", "images_per_second", "train_seconds")


def check_metrics_record(record: Any, path: Path, line: int) -> None:
    """One parsed line of metrics.jsonl."""
    where = f"line {line}"
    if not isinstance(record, dict):
        raise refuse(path, where, "a JSON object", record)
    step = record.get("step", ...)
    if not (is_int(step) and 0 <= step <= MAX_COUNT):
        raise refuse(path, f"{where} 'step'", f"an integer from 0 to {MAX_COUNT}", step)
    for name in METRIC_NUMBERS:
        if name in record and not (is_number(record[name]) or record[name] is None):
            raise refuse(path, f"{where} {name!r}", "a number", record[name])


# -- checkpoints ---------------------------------------------------------------------------------------------


def check_tensors(saved: Any, expected: Mapping[str, torch.Tensor], path: Path, field: str) -> None:
    """A state dict holding exactly ``expected``'s tensors, each of its dtype and shape."""
    if not isinstance(saved, dict):
        raise refuse(path, field, "a dictionary of tensors", saved)
    missing = sorted(set(expected) - set(saved))
    unexpected = sorted(set(saved) - set(expected), key=str)
    if missing or unexpected:
        names = ", ".join(
            [*(f"missing {k!r}" for k in missing[:3]), *(f"extra {k!r}" for k in unexpected[:3])]
        )
        raise refuse(path, field, "the tensors of this run's network", note=f"it has {names}")
    for name, reference in expected.items():
        value = saved[name]
        if not (
            isinstance(value, torch.Tensor)
            and value.dtype == reference.dtype
            and value.shape == reference.shape
        ):
            raise refuse(
                path,
                f"{field} {name!r}",
                f"a {reference.dtype} tensor of shape {list(reference.shape)}",
                value,
            )


def _finite_number(low: float, high: float = math.inf, high_open: bool = False) -> Check:
    def test(v: Any) -> bool:
        return is_number(v) and math.isfinite(v) and low <= v and (v < high if high_open else v <= high)

    return test, f"a finite number from {low:g} to {high:g}{' (excluded)' if high_open else ''}"


GROUP_NUMBERS: dict[str, Check] = {
    "lr": (lambda v: is_number(v) and math.isfinite(v) and v > 0, "a positive finite number"),
    "eps": (lambda v: is_number(v) and math.isfinite(v) and v > 0, "a positive finite number"),
    "weight_decay": _finite_number(0.0),
    "betas": (
        lambda v: (
            isinstance(v, (tuple, list)) and len(v) == 2 and all(is_number(b) and 0.0 <= b < 1.0 for b in v)
        ),
        "two numbers in [0, 1)",
    ),
}
GROUP_FLAGS = (
    "amsgrad",
    "maximize",
    "foreach",
    "capturable",
    "differentiable",
    "fused",
    "decoupled_weight_decay",
)


def check_optimizer(saved: Any, optimizer: torch.optim.Optimizer, path: Path, field: str) -> None:
    """An optimizer state for ``optimizer``: its parameter groups, and per parameter state tensors of that
    parameter's shape (fused Adam reads them without checking)."""
    expected = optimizer.state_dict()
    if not (
        isinstance(saved, dict)
        and isinstance(saved.get("state"), dict)
        and isinstance(saved.get("param_groups"), list)
    ):
        raise refuse(path, field, "an optimizer state (a dictionary with 'state' and 'param_groups')", saved)
    groups = saved["param_groups"]
    if len(groups) != len(expected["param_groups"]):
        raise refuse(
            path, f"{field} 'param_groups'", f"{len(expected['param_groups'])} parameter groups", groups
        )
    parameters: dict[int, torch.Tensor] = {}
    for number, (group, reference, live) in enumerate(
        zip(groups, expected["param_groups"], optimizer.param_groups)
    ):
        where = f"{field} param_groups[{number}]"
        if not isinstance(group, dict) or group.get("params") != reference["params"]:
            raise refuse(
                path, f"{where} 'params'", f"the parameter indices {_shown(reference['params'])}", group
            )
        for name, (test, description) in GROUP_NUMBERS.items():
            if name in group and not test(group[name]):
                raise refuse(path, f"{where} {name!r}", description, group[name])
        for name in GROUP_FLAGS:
            if name in group and not (group[name] is None or isinstance(group[name], bool)):
                raise refuse(path, f"{where} {name!r}", "true, false or null", group[name])
        if bool(group.get("amsgrad", False)) != bool(reference.get("amsgrad", False)):
            raise refuse(
                path, f"{where} 'amsgrad'", repr(bool(reference.get("amsgrad", False))), group.get("amsgrad")
            )
        parameters.update(zip(reference["params"], live["params"]))
    adam = isinstance(optimizer, torch.optim.Adam | torch.optim.AdamW)
    for index, state in saved["state"].items():
        where = f"{field} state[{index!r}]"
        if not (is_int(index) and index in parameters):
            raise refuse(
                path, f"{field} state key {index!r}", f"a parameter index from 0 to {len(parameters) - 1}"
            )
        if not isinstance(state, dict):
            raise refuse(path, where, "a dictionary of tensors", state)
        if adam:
            needed = {"step", "exp_avg", "exp_avg_sq"} | (
                {"max_exp_avg_sq"} if groups[0].get("amsgrad") else set()
            )
            if needed - set(state):
                raise refuse(path, where, f"a state with {', '.join(sorted(needed))}", sorted(state))
        shape = parameters[index].shape
        for name, value in state.items():
            if name == "step":
                number = value.item() if isinstance(value, torch.Tensor) and value.numel() == 1 else value
                if not (
                    (not isinstance(value, torch.Tensor) or value.is_floating_point())
                    and is_number(number)
                    and math.isfinite(number)
                    and number >= 0
                ):
                    raise refuse(
                        path,
                        f"{where} 'step'",
                        "a non-negative finite number (a float tensor of one value)",
                        value,
                    )
            elif isinstance(value, torch.Tensor):
                if not (value.is_floating_point() and value.shape == shape):
                    raise refuse(path, f"{where} {name!r}", f"a float tensor of shape {list(shape)}", value)
            else:
                raise refuse(path, f"{where} {name!r}", "a tensor", value)


def check_sampler(saved: Any, size: int, path: Path) -> None:
    """The data order: its generator state, a permutation of range(size) and a position in it."""
    if not isinstance(saved, dict):
        raise refuse(path, "'sampler'", "a dictionary with generator, permutation and position", saved)
    _check_generator_state(
        saved.get("generator"), torch.Generator().get_state(), path, "'sampler' 'generator'"
    )
    permutation = saved.get("permutation")
    expected = f"a permutation of range({size}) (an int64 tensor of {size} distinct indices)"
    if not (
        isinstance(permutation, torch.Tensor)
        and permutation.dtype == torch.int64
        and permutation.shape == (size,)
        and torch.equal(torch.sort(permutation).values, torch.arange(size))
    ):
        raise refuse(path, "'sampler' 'permutation'", expected, permutation)
    position = saved.get("position")
    if not (is_int(position) and 0 <= position <= size):
        raise refuse(path, "'sampler' 'position'", f"an integer from 0 to {size}", position)


def _check_generator_state(value: Any, reference: torch.Tensor, path: Path, field: str) -> None:
    if not (
        isinstance(value, torch.Tensor) and value.dtype == torch.uint8 and value.shape == reference.shape
    ):
        raise refuse(path, field, f"a uint8 tensor of shape {list(reference.shape)} (an RNG state)", value)


PYTHON_STATE_LENGTH = len(random.getstate()[1])  # 624 words of the Mersenne Twister and its position
NUMPY_KEYS = len(np.random.get_state()[1])


def check_rng(saved: Any, path: Path) -> None:
    """torch's, numpy's and Python's RNG states (and CUDA's when there)."""
    if not isinstance(saved, dict):
        raise refuse(path, "'rng'", "a dictionary of RNG states", saved)
    _check_generator_state(saved.get("torch"), torch.get_rng_state(), path, "'rng' 'torch'")
    keys = saved.get("numpy_keys")
    if not (
        isinstance(keys, torch.Tensor)
        and keys.dtype == torch.int64
        and keys.shape == (NUMPY_KEYS,)
        and bool(((keys >= 0) & (keys < 2**32)).all())
    ):
        raise refuse(
            path, "'rng' 'numpy_keys'", f"an int64 tensor of {NUMPY_KEYS} values in [0, 2**32)", keys
        )
    position = saved.get("numpy_position")
    if not (is_int(position) and 0 <= position <= NUMPY_KEYS):
        raise refuse(path, "'rng' 'numpy_position'", f"an integer from 0 to {NUMPY_KEYS}", position)
    python = saved.get("python")
    expected = f"(3, {PYTHON_STATE_LENGTH} integers in [0, 2**32), null or a number)"
    if not (
        isinstance(python, (tuple, list))
        and len(python) == 3
        and python[0] == 3
        and isinstance(python[1], (tuple, list))
        and len(python[1]) == PYTHON_STATE_LENGTH
        and all(is_int(word) and 0 <= word < 2**32 for word in python[1])
        and (python[2] is None or is_number(python[2]))
    ):
        raise refuse(path, "'rng' 'python'", expected, python)
    if "cuda" in saved:
        cuda = saved["cuda"]
        if not (
            isinstance(cuda, list)
            and all(isinstance(s, torch.Tensor) and s.dtype == torch.uint8 for s in cuda)
        ):
            raise refuse(path, "'rng' 'cuda'", "a list of uint8 tensors (CUDA RNG states)", cuda)


def check_checkpoint(state: Mapping[str, Any], path: Path, networks: Any, sampler_size: int) -> None:
    """Every value of a training checkpoint against what this run's networks, optimizers and data expect."""
    step = state.get("step", ...)
    if not (is_int(step) and 0 <= step <= MAX_COUNT):
        raise refuse(path, "'step'", f"an integer from 0 to {MAX_COUNT}", step)
    named = path.name.removeprefix("step_").removesuffix(".pt")
    if named.isdigit() and int(named) != step:
        raise refuse(path, "'step'", f"{int(named)} (the step in the file's name)", step)
    test, expected = _finite_number(0.0)
    if "train_seconds" in state and not test(state["train_seconds"]):
        raise refuse(path, "'train_seconds'", expected, state["train_seconds"])
    if "world_size" in state and not (is_int(state["world_size"]) and state["world_size"] >= 1):
        raise refuse(path, "'world_size'", "a positive integer", state["world_size"])
    check_tensors(state.get("generator"), networks.G.state_dict(), path, "'generator'")
    check_tensors(state.get("discriminator"), networks.D.state_dict(), path, "'discriminator'")
    if networks.ema is not None:
        check_tensors(state.get("ema_generator"), networks.ema.model.state_dict(), path, "'ema_generator'")
    check_optimizer(state.get("optimizer_generator"), networks.opt_G, path, "'optimizer_generator'")
    check_optimizer(state.get("optimizer_discriminator"), networks.opt_D, path, "'optimizer_discriminator'")
    check_sampler(state.get("sampler"), sampler_size, path)
    check_rng(state.get("rng"), path)
