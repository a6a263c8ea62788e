"""How long the CLI takes to start, against importing torch: `ganzoo --help`, `--version` and `list` each
timed as a whole process, interleaved round by round with `python -c "import torch"` (and `python -c pass`,
the interpreter alone), medians over the rounds. Targets (issue 19): `--help` and `--version` far below
importing torch (they import none), `ganzoo list` <= 1.1x importing torch (it imports torch for the plugins).

Every command reads compiled bytecode from one fresh cache (``PYTHONPYCACHEPREFIX``, filled by the untimed
warm-up round), as from an installed package, even where ``PYTHONDONTWRITEBYTECODE`` is set: otherwise
ganzoo's modules would be compiled anew on every start while torch's come precompiled.
``--as-is`` keeps the environment's own setting instead.

    python -m benchmarks.startup [--rounds 15] [--as-is] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.harness import interleaved_medians, machine_line, markdown_table

BASELINE = "python -c 'import torch'"


def ganzoo_command() -> list[str]:
    """The `ganzoo` console script beside this interpreter (what a user runs), else ``python -m ganzoo``."""
    script = Path(sys.executable).with_name("ganzoo")
    if script.exists():
        return [str(script)]
    found = shutil.which("ganzoo")
    return [found] if found else [sys.executable, "-m", "ganzoo"]


def commands() -> dict[str, list[str]]:
    ganzoo = ganzoo_command()
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        BASELINE: [sys.executable, "-c", "import torch"],
        "ganzoo --help": [*ganzoo, "--help"],
        "ganzoo --version": [*ganzoo, "--version"],
        "ganzoo list": [*ganzoo, "list"],
    }


def run_quietly(argv: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False, env=env
    )
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({result.returncode}):\n{result.stderr}")


def measure(rounds: int, warmup: int = 1, bytecode_cache: bool = True) -> dict[str, float]:
    """Median wall-clock seconds of each command as a whole process."""
    with tempfile.TemporaryDirectory(prefix="ganzoo-startup-pyc-") as cache:
        env = dict(os.environ)
        if bytecode_cache:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = cache
        candidates = {name: (lambda argv=argv: run_quietly(argv, env)) for name, argv in commands().items()}
        return interleaved_medians(candidates, rounds=rounds, warmup=max(warmup, 1 if bytecode_cache else 0))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15, help="timed rounds (each runs every command once)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds first (file caches)")
    parser.add_argument(
        "--as-is",
        action="store_true",
        help="no fresh bytecode cache: keep PYTHONDONTWRITEBYTECODE and friends",
    )
    parser.add_argument("--json", action="store_true", help="print the medians and ratios as JSON")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.warmup < 0:
        parser.error("--rounds must be at least 1 and --warmup at least 0")
    medians = measure(args.rounds, args.warmup, bytecode_cache=not args.as_is)
    bytecode = "environment as is" if args.as_is else "bytecode cached"
    baseline = medians[BASELINE]
    ratios = {name: seconds / baseline for name, seconds in medians.items()}
    if args.json:
        print(
            json.dumps(
                {
                    "machine": machine_line(),
                    "rounds": args.rounds,
                    "bytecode": bytecode,
                    "seconds": medians,
                    "ratio_to_import_torch": ratios,
                },
                indent=2,
            )
        )
        return 0
    print(f"Start-up, median of {args.rounds} interleaved rounds ({bytecode}); {machine_line()}\n")
    rows = [[f"`{name}`", f"{seconds:.3f}", f"{ratios[name]:.2f}x"] for name, seconds in medians.items()]
    print(markdown_table(["command", "seconds", f"vs `{BASELINE}`"], rows))
    target = "met" if ratios["ganzoo list"] <= 1.1 else "missed"
    print(f"\n`ganzoo list` / `import torch` = {ratios['ganzoo list']:.2f}x (target <= 1.1x: {target})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
