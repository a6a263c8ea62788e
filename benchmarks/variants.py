"""Candidate speed-ups of the engine's hot path, each measured on a copy of its iteration (the plain loop)
against the unchanged copy (fp32, torch's default Adam: the loop before any of these choices), in
alternating rounds of the same run, so the ratio is meaningful on a busy machine. Nothing here changes the
engine; RESULTS.md ("Findings") says which changes are worth making.

    python -m benchmarks.variants [--models vanilla,dcgan,wgan-gp] [--rounds 10] [--variants a,b]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from benchmarks.harness import BUILTIN_MODELS, interleaved_medians, machine_line, markdown_table, set_threads
from benchmarks.harness import measuring_trainer as make_trainer
from benchmarks.plain_loop import PlainLoop
from ganzoo.engine import Trainer
from ganzoo.engine.ema import ExponentialMovingAverage
from ganzoo.engine.metrics_log import MetricsLog
from ganzoo.engine.rundir import RunDirectory


@dataclass(frozen=True)
class Variant:
    """One change to the plain loop; ``applies`` says for which models it keeps the training identical
    in distribution (a change that alters the maths is marked in ``note``)."""

    name: str
    note: str
    adam: dict[str, Any] | None = None  # extra torch.optim.Adam arguments
    float_images: bool = False  # convert the dataset to float [-1, 1] once instead of per batch
    channels_last: bool = False
    bf16_autocast: bool = False
    compile: bool = False
    joint_discriminator_pass: bool = False  # one D call on cat(real, fake) instead of two
    frozen_discriminator: bool = False  # D's parameters frozen in the generator step


VARIANTS = {
    v.name: v
    for v in (
        Variant(
            "adam-foreach",
            "Adam(foreach=True): one multi-tensor kernel per update step",
            adam={"foreach": True},
        ),
        Variant("adam-fused", "Adam(fused=True): the fused CPU kernel (torch >= 2.4)", adam={"fused": True}),
        Variant(
            "float-dataset", "dataset converted to float once (4x the memory of uint8)", float_images=True
        ),
        Variant("channels-last", "channels_last weights and batches (conv models)", channels_last=True),
        Variant("bf16-autocast", "bf16 autocast on the CPU: changes the numerics", bf16_autocast=True),
        Variant(
            "frozen-d",
            "D's parameters frozen in the generator step: its backward skips D's weight gradients",
            frozen_discriminator=True,
        ),
        Variant(
            "engine-mlp",
            "fused Adam, bf16 autocast, frozen D: the engine's defaults on an AMX CPU for MLP models",
            adam={"fused": True},
            bf16_autocast=True,
            frozen_discriminator=True,
        ),
        Variant(
            "engine-conv",
            "fused Adam, bf16 autocast, channels_last, frozen D: the engine's defaults on an AMX CPU for conv models",
            adam={"fused": True},
            bf16_autocast=True,
            channels_last=True,
            frozen_discriminator=True,
        ),
        Variant("compile", "torch.compile of G and D (first call compiles; excluded)", compile=True),
        Variant(
            "joint-d-pass",
            "D on cat(real, fake) in one call: same maths only without batch norm in D",
            joint_discriminator_pass=True,
        ),
    )
}


class VariantLoop(PlainLoop):
    """The plain loop with one :class:`Variant` applied."""

    def __init__(self, trainer: Trainer, variant: Variant) -> None:
        super().__init__(
            trainer.spec,
            trainer.hp,
            trainer.real_batches.images,
            trainer.config.seed,
            adam=variant.adam,
            amp=variant.bf16_autocast,
            channels_last=variant.channels_last,
            frozen_discriminator=variant.frozen_discriminator,
        )
        self.variant = variant
        if variant.float_images:
            self.images = self.images.float().mul_(2.0 / 255.0).sub_(1.0)
        if variant.compile:
            self.G_call, self.D_call = torch.compile(self.G), torch.compile(self.D)

    def discriminate(self, real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.variant.joint_discriminator_pass:
            return self.D_call(torch.cat((real, fake))).chunk(2)
        return super().discriminate(real, fake)


def has_batch_norm(module: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())


def is_convolutional(module: nn.Module) -> bool:
    return any(isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) for m in module.modules())


def applicable(variant: Variant, trainer: Trainer) -> bool:
    if variant.channels_last:
        return is_convolutional(trainer.D)
    if variant.joint_discriminator_pass:
        return not has_batch_norm(trainer.D)
    return True


def compare_variants(model: str, names: list[str], rounds: int) -> list[list[str]]:
    """Rows (model, variant, ms plain, ms variant, speed-up) for the variants that apply to ``model``."""
    trainer = make_trainer(model)
    rows = []
    for name in names:
        variant = VARIANTS[name]
        if not applicable(variant, trainer):
            continue
        loop = PlainLoop(trainer.spec, trainer.hp, trainer.real_batches.images, trainer.config.seed)
        try:
            candidate = VariantLoop(trainer, variant)
            start = time.perf_counter()
            candidate.step()  # the first call pays for compilation and one-off set-up
            first_call = time.perf_counter() - start
        except Exception as exc:  # a variant that cannot run on this model is a finding, not a crash
            rows.append(
                [model, name, "-", "-", f"fails: {type(exc).__name__}: {str(exc).splitlines()[0][:80]}"]
            )
            continue
        medians = interleaved_medians({"plain": loop.step, "variant": candidate.step}, rounds=rounds)
        extra = f" (first call {first_call:.1f} s)" if variant.compile else ""
        rows.append(
            [
                model,
                name,
                f"{medians['plain'] * 1e3:.1f}",
                f"{medians['variant'] * 1e3:.1f}",
                f"{medians['plain'] / medians['variant']:.2f}x{extra}",
            ]
        )
    return rows


class ForeachEma(ExponentialMovingAverage):
    """The engine's EMA with the parameter list cached and buffers copied in one foreach call."""

    def __init__(self, generator: nn.Module, decay: float) -> None:
        super().__init__(generator, decay)
        self._source = list(generator.parameters())
        self._source_buffers = list(generator.buffers())

    @torch.no_grad()
    def update(self, generator: nn.Module, step: int) -> None:
        decay = min(self.decay, (1.0 + step) / (10.0 + step))
        torch._foreach_lerp_(self._target, self._source, 1.0 - decay)
        if self._target_buffers:
            torch._foreach_copy_(self._target_buffers, self._source_buffers)


def loop_overhead(model: str, rounds: int = 200) -> list[str]:
    """What Trainer.run adds to each train_step, piece by piece: the EMA update (as now, and with cached
    lists and a foreach buffer copy), the per-step loss bookkeeping, and the metrics line every 50 steps."""
    trainer = make_trainer(model)
    d_loss, g_loss = trainer.train_step()
    ema_foreach = ForeachEma(trainer.G, trainer.config.ema_decay)
    log = MetricsLog(RunDirectory(trainer.directory, writes=False), trainer.device, 64, 0.0)

    def bookkeeping() -> None:  # what Trainer.run does between the iteration and the logging check
        log.add(7, d_loss, g_loss)

    def write_log() -> None:
        log.interval_steps = 50
        log.write(50, 1.0, trainer.G, trainer.D)

    medians = interleaved_medians(
        {
            "ema": lambda: trainer.ema.update(trainer.G, 100),
            "ema_foreach": lambda: ema_foreach.update(trainer.G, 100),
            "bookkeeping": bookkeeping,
            "log": write_log,
        },
        rounds=rounds,
    )
    step = interleaved_medians({"step": trainer.train_step}, rounds=5)["step"]
    extra = medians["ema"] + medians["bookkeeping"] + medians["log"] / 50
    return [
        model,
        f"{step * 1e3:.2f}",
        f"{medians['ema'] * 1e6:.0f}",
        f"{medians['ema_foreach'] * 1e6:.0f}",
        f"{medians['bookkeeping'] * 1e6:.0f}",
        f"{medians['log'] * 1e6:.0f}",
        f"{extra / step:.2%}",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(BUILTIN_MODELS))
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"among {', '.join(VARIANTS)}")
    parser.add_argument("--rounds", type=int, default=10, help="alternating timed rounds per comparison")
    parser.add_argument("--loop-overhead", action="store_true", help="also measure Trainer.run's bookkeeping")
    args = parser.parse_args(argv)
    set_threads()
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    names = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in names if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant {', '.join(unknown)}; choose among {', '.join(VARIANTS)}")
    rows = [row for model in models for row in compare_variants(model, names, args.rounds)]
    print(markdown_table(["model", "variant", "plain ms", "variant ms", "speed-up"], rows))
    for name in names:
        print(f"- {name}: {VARIANTS[name].note}")
    if args.loop_overhead:
        overhead = [loop_overhead(model) for model in models]
        columns = [
            "model",
            "train_step ms",
            "EMA us",
            "EMA foreach us",
            "bookkeeping us",
            "log line us",
            "run() extra",
        ]
        print()
        print(markdown_table(columns, overhead))
    print(f"\n{machine_line()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
