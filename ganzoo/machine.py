"""What this machine's processor is: its model name and the flags that decide which precision pays
(AMX tiles, AVX-512 bf16). Speed figures and cached speed decisions are keyed by it."""

from __future__ import annotations

import functools
import platform

RELEVANT_FLAGS = ("amx_bf16", "amx_tile", "avx512_bf16", "avx512f", "avx2")


@functools.cache
def _cpuinfo() -> tuple[str, frozenset[str]]:
    model, flags = platform.processor() or platform.machine(), frozenset()
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and model == (platform.processor() or platform.machine()):
                    model = value.strip()
                elif key.strip() == "flags" and not flags:
                    flags = frozenset(value.split())
    except OSError:
        pass
    return model, flags


def cpu_model() -> str:
    return _cpuinfo()[0]


def cpu_flags() -> list[str]:
    """The flags of RELEVANT_FLAGS this CPU has."""
    return [flag for flag in RELEVANT_FLAGS if flag in _cpuinfo()[1]]


def cpu_has_amx() -> bool:
    """Whether this CPU has AMX bf16 tiles."""
    return "amx_bf16" in _cpuinfo()[1]


def cpu_line() -> str:
    """One line for a speed figure: the CPU model and its relevant flags."""
    flags = cpu_flags()
    return f"{cpu_model()} ({', '.join(flags) if flags else 'none of ' + ', '.join(RELEVANT_FLAGS)})"
