"""`ganzoo train` and `ganzoo sample`: the engine and its run directories from the command line."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import torch

from ganzoo import checkpoint as ckpt
from ganzoo.augment import parse_augment
from ganzoo.commands import SEED
from ganzoo.commands.datasets import dataset_options
from ganzoo.console import plain, say
from ganzoo.engine import TrainConfig, Trainer, distributed, select_device
from ganzoo.engine.tensorboard import EVENTS_DIR, TensorBoardLogger
from ganzoo.errors import GanzooError, UsageError
from ganzoo.images import (
    check_grid_shape,
    check_image_budget,
    npz_path,
    png_folder_problem,
    save_grid,
    save_npz,
    save_png_folder,
    square_grid_shape,
)
from ganzoo.interfaces import balanced_labels
from ganzoo.metrics.fid import sample_uint8

POSITIVE = click.IntRange(min=1)
PER_CLASS_COLUMNS = 10  # images per class in a conditional run's per-class grid


@click.command("train")
@click.option("--model", "-m", default=None, help="Registered model name or alias (see `ganzoo list`).")
@click.option("--dataset", "-d", default=None, help="Dataset NAME or NAME:SPLIT (default mnist-10k).")
@click.option("--steps", type=POSITIVE, default=None, help="Total generator steps (default 2000).")
@click.option("--batch-size", type=POSITIVE, default=None, help="Images per step (default: the model's).")
@click.option("--out", "-o", type=click.Path(path_type=Path), default=None, help="Run directory.")
@click.option("--seed", type=SEED, default=None, help="Seed for weights, noise and data order (default 0).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a hyperparameter.")
@click.option("--resume", type=click.Path(path_type=Path), default=None, help="Continue this run directory.")
@click.option("--overwrite", is_flag=True, help="Replace an existing run directory.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N or mps.")
@click.option("--compile", "compile_", is_flag=True, help="Use torch.compile for G and D.")
@click.option(
    "--amp/--no-amp", default=None,
    help="bf16 autocast (default: measured on the CPU once per model and machine; on with CUDA).",
)
@click.option(
    "--channels-last/--no-channels-last", default=None,
    help="channels_last memory format (default: measured on the CPU; on with CUDA for convolutions).",
)
@click.option("--augment", default=None, metavar="NAMES",
              help="DiffAugment: augmentations applied to all D sees, e.g. color,translation,cutout.")
@click.option("--no-ema", is_flag=True, help="Do not keep an EMA of the generator.")
@click.option("--ema-decay", type=click.FloatRange(0, 1, max_open=True), default=None, help="EMA decay.")
@click.option("--log-every", type=POSITIVE, default=None, help="Steps between metrics lines (default 50).")
@click.option("--sample-every", type=click.IntRange(min=0), default=None, help="Steps between grids (500).")
@click.option("--checkpoint-every", type=click.IntRange(min=0), default=None, help="Steps between checkpoints.")
@click.option("--keep-checkpoints", type=POSITIVE, default=None, help="Checkpoints to keep (default 3).")
@dataset_options
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option(
    "--tensorboard", is_flag=True,
    help="Also write TensorBoard events to RUN_DIR/tensorboard (pip install 'ganzoo[tensorboard]').",
)
def train(resume, overwrite, no_progress, no_ema, compile_, strict, no_download, tensorboard, **options) -> None:
    """Train a model; writes a run directory with config, metrics, sample grids and checkpoints.

    \b
    ganzoo train --model dcgan --steps 2000 --out runs/dcgan
    ganzoo train --resume runs/dcgan --steps 4000
    torchrun --nproc-per-node 2 -m ganzoo train --model dcgan --out runs/ddp   (one rank per GPU)
    """
    given = {k: v for k, v in options.items() if v not in (None, ())}
    if resume is not None:
        conflicting = sorted(set(given) - {"steps", "device"} - ({"out"} if given.get("out") == resume else set()))
        if conflicting or overwrite or no_ema or compile_:
            names = ", ".join("--" + n.replace("_", "-") for n in conflicting) or "--overwrite/--no-ema/--compile"
            raise UsageError(
                f"--resume continues a run with its saved settings; {names} cannot be combined with it "
                f"(only --steps and --device can)."
            )
        if "steps" not in given:
            raise UsageError("--resume needs --steps: the total step count to continue the run to.")
        if strict or no_download:
            raise UsageError("--resume reads the dataset as the run did; --strict and --no-download cannot change it.")
    config = TrainConfig(
        progress=not no_progress, ema=not no_ema, compile=compile_, strict=strict, download=not no_download
    )
    for key, value in given.items():
        if key == "overrides":
            value = list(value)
        elif key in ("out", "data_dir"):
            value = str(value)
        elif key == "channels":
            value = int(value)
        elif key == "augment":
            value = parse_augment(value)
        setattr(config, key, value)
    try:
        with _errors_printed_once(), distributed.explain_collective_failures():
            callbacks = [TensorBoardLogger()] if tensorboard else []
            trainer = Trainer(config, resume=resume, overwrite=overwrite, cli=True, callbacks=callbacks)
            if trainer.rank == 0:
                _announce(trainer, resume is not None)
            run = trainer.run()
    finally:
        distributed.teardown()
    if trainer.rank != 0:
        return
    last = ckpt.list_checkpoints(run.directory)
    say(
        f"[bold green]Done:[/] {plain(trainer.spec.name)} trained for {run.step} steps "
        f"({trainer.train_seconds:.0f} s of training).\n"
        f"  run directory  {plain(run.directory)}\n"
        f"  generator      {plain(run.generator_path)}\n"
        f"  samples        {plain(run.directory / 'samples')}\n"
        f"  checkpoints    {plain(last[-1][1]) if last else '-'}\n"
        f"  metrics        {plain(run.metrics_path)}\n"
        + (f"  tensorboard    tensorboard --logdir {plain(_quoted(run.directory / EVENTS_DIR))}\n" if tensorboard else "")
        + f"Next: ganzoo sample {plain(_quoted(run.directory))} --grid 4x4 -o grid.png"
    )


def _quoted(path: Path) -> str:
    """A path as a shell would need it typed."""
    import shlex

    return shlex.quote(str(path))


@contextlib.contextmanager
def _errors_printed_once() -> Iterator[None]:
    """Under torchrun, an error that every rank raised is printed by rank 0; the others exit with its code."""
    try:
        yield
    except GanzooError as exc:
        if not distributed.is_main_process() and getattr(exc, "raised_on_every_rank", False):
            sys.exit(exc.exit_code)  # click would turn its own Exit into a return value here
        raise


def _announce(trainer: Trainer, resumed: bool) -> None:
    if resumed and trainer.finishing:
        say(
            f"Finishing {plain(trainer.directory)}: it reached step {trainer.step} "
            f"({plain(trainer.resumed_from)}) but was stopped before writing its generator and final grid."
        )
    elif resumed:
        say(
            f"Resuming {plain(trainer.directory)} from step {trainer.step} ({plain(trainer.resumed_from)}) "
            f"to {trainer.config.steps}."
        )
    info = trainer.distributed_info
    if info is not None:
        norms = info["batch_norm"]
        say(
            f"Distributed: {info['world_size']} ranks ({info['backend']}), {info['batch_size_per_rank']} of each "
            f"{trainer.hp.batch_size}-image batch per rank; batch norm: G {norms['generator']}, "
            f"D {norms['discriminator']}."
        )


def parse_grid(text: str) -> tuple[int, int]:
    rows, sep, columns = text.lower().partition("x")
    try:
        shape = int(rows), int(columns)
    except ValueError:
        shape = (0, 0)
    if not sep or min(shape) <= 0:
        raise UsageError(f"--grid expects ROWSxCOLUMNS with positive numbers, e.g. 4x4; got {text!r}.")
    return shape


@click.command("sample")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--n", "count", type=POSITIVE, default=None, help="Number of images (default: grid size, 16).")
@click.option("--grid", default=None, help="ROWSxCOLUMNS of the PNG grid (default 4x4).")
@click.option("--output", "-o", type=click.Path(path_type=Path), default=None, help="Output file or folder.")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed of the latent vectors.")
@click.option(
    "--format", "fmt", type=click.Choice(["grid", "npz", "png-dir"]), default="grid", show_default=True,
    help="One PNG grid, an .npz of uint8 images (with their labels for a conditional model), or a folder of PNGs.",
)
@click.option("--class", "class_", type=click.IntRange(min=0), default=None, help="Conditional models: draw this class only.")
@click.option(
    "--per-class", is_flag=True,
    help="Conditional models: a grid whose row k shows class k (the default grid of a conditional run).",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing output.")
@click.option("--device", default="cpu", show_default=True, help="Device to sample on.")
def sample(source: Path, count, grid, output, seed, fmt, class_, per_class, overwrite, device) -> None:
    """Draw images from a run directory's (or checkpoint's) EMA generator.

    \b
    ganzoo sample runs/dcgan --grid 4x4 -o digits.png
    ganzoo sample runs/dcgan --n 1000 --format npz -o samples.npz
    ganzoo sample runs/cgan-pd -o classes.png             (conditional: row k shows class k)
    ganzoo sample runs/cgan-pd --class 3 --grid 4x4 -o threes.png
    """
    if grid is not None and fmt != "grid":
        raise UsageError("--grid applies to --format grid only; use --n for npz and png-dir.")
    if per_class and (fmt != "grid" or class_ is not None):
        raise UsageError("--per-class makes one PNG grid of every class; it cannot be combined with --class or --format.")
    rows, columns = parse_grid(grid) if grid else (None, None)
    if rows is not None:
        if count is not None and count != rows * columns:
            raise UsageError(f"--n {count} conflicts with --grid {grid} ({rows * columns} images).")
        count = rows * columns
    if output is None:
        output = Path({"grid": "samples.png", "npz": "samples.npz", "png-dir": "samples"}[fmt])
    if fmt == "npz":
        output = npz_path(output)  # the file numpy writes: checked and named, not the name before .npz
    problem = png_folder_problem(output, overwrite) if fmt == "png-dir" else None
    if fmt != "png-dir" and output.exists():
        if output.is_dir():
            problem = f"{output} is a folder; --format {fmt} writes one file"
        elif not overwrite:
            problem = f"{output} already exists"
    if problem:
        hint = "" if "ganzoo did not write" in problem else "; choose another --output or pass --overwrite"
        raise UsageError(f"{problem}{hint}.")
    device = select_device(device)
    G = ckpt.load_generator(source, device)
    if not G.conditional and (class_ is not None or per_class):
        raise UsageError(f"{G.model_name} is not class-conditional; --class and --per-class need a conditional model.")
    if G.conditional and class_ is not None and class_ >= G.num_classes:
        raise UsageError(f"--class {class_} is out of range: {G.model_name} has classes 0..{G.num_classes - 1}.")
    labels = None
    if G.conditional and (per_class or (fmt == "grid" and class_ is None and count is None)):
        columns = columns if rows == G.num_classes else PER_CLASS_COLUMNS
        rows, count = G.num_classes, G.num_classes * columns
        labels = torch.arange(G.num_classes).repeat_interleave(columns)  # row k: class k
        per_class = True
    count = count or 16
    if G.conditional and labels is None:
        labels = torch.full((count,), class_) if class_ is not None else balanced_labels(count, G.num_classes)
    if fmt == "grid":
        if rows is None:
            rows, columns = square_grid_shape(count)
        check_grid_shape(rows, columns, G.image_shape)
    check_image_budget(count, G.image_shape)
    images = sample_uint8(G, count, seed=seed, labels=labels)
    provenance = {"model": G.model_name, "checkpoint_sha256": G.checkpoint_sha256}
    if fmt == "grid":
        save_grid(images, output, rows=rows, columns=columns, **provenance)
    elif fmt == "npz":
        save_npz(images, output, labels=labels, **provenance)
    else:
        save_png_folder(images, output, **provenance)
    what = "" if labels is None else (
        f" of class {class_}" if class_ is not None else " (row k: class k)" if per_class else " (classes balanced)"
    )
    say(f"Wrote {count} images{what} from {plain(G.model_name)} to {plain(output)}.")
