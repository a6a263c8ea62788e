"""The trainer: composes the parts of a run (placement, run directory, data, networks, iteration, state,
log) and drives them: the loop, callbacks, checkpoints at intervals, signals and progress."""

from __future__ import annotations

import copy
import dataclasses
import functools
import os
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganzoo import checkpoint as ckpt
from ganzoo.augment import build_pipeline
from ganzoo.conditioning import Conditioning, hyperparameters_for
from ganzoo.datasets.base import ImageDataset, load_dataset, to_uint8
from ganzoo.engine import distributed, precision
from ganzoo.engine.callbacks import Callback, Callbacks
from ganzoo.engine.config import TrainConfig
from ganzoo.engine.data import LabeledBatches, RealBatches
from ganzoo.engine.interruption import (
    TrainingDiverged,
    TrainingInterrupted,
    interrupted,
    raise_if_diverged,
    stop_requests,
)
from ganzoo.engine.iteration import Iteration
from ganzoo.engine.metrics_log import MetricsLog
from ganzoo.engine.networks import Networks, place_networks
from ganzoo.engine.placement import Placement, decide_placement
from ganzoo.engine.progress import progress_bar
from ganzoo.engine.rundir import Run, RunDirectory, default_run_dir, describe_run
from ganzoo.engine.state import Checkpointer, run_identity
from ganzoo.errors import UsageError, exception_line
from ganzoo.interfaces import balanced_labels
from ganzoo.registry import zoo
from ganzoo.spec import Hyperparameters, ModelSpec, check_model_outputs


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class Trainer:
    """Trains ``config.model`` on ``config.dataset``; :meth:`run` returns the :class:`Run`.

    Give ``resume`` a run directory to continue it from its newest checkpoint up to ``config.steps``.
    ``cli``: errors name the command line's options (``--resume``) instead of Python arguments.
    """

    def __init__(
        self,
        config: TrainConfig,
        *,
        callbacks: list[Callback] | None = None,
        resume: str | os.PathLike | None = None,
        overwrite: bool = False,
        dataset: ImageDataset | None = None,
        cli: bool = False,
    ) -> None:
        self.callbacks = Callbacks(callbacks or [])
        self._stop_signal: int | None = None
        self._stop_requested = False  # set by stop(): a callback ended the run early
        self.train_seconds = 0.0  # wall time spent in training steps (callbacks and evaluation excluded)
        self.step = 0
        self.finishing = False  # resumed at its final step without its generator.pt or final grid
        # Under torchrun each process is one rank (ganzoo.engine.distributed) and rank 0 alone writes;
        # outside it this is (0, 1, None) and every distributed branch is skipped.
        process = distributed.setup(config.device)
        config, path, recorded = _configured(config, resume, process)
        self.config = config
        self.spec = zoo().models.get(config.model)
        config.model = self.spec.name
        self.hp = config.hyperparameters(self.spec)
        if resume is None:
            path = distributed.on_main(
                lambda: Path(config.out) if config.out else default_run_dir(self.spec.name)
            )
        self.run_dir = RunDirectory(path, writes=process[0] == 0)
        replace = resume is None and distributed.on_main(lambda: self.run_dir.refuse_existing(overwrite, cli))

        self.dataset = _training_data(config, self.spec, dataset)
        self.hp = hyperparameters_for(self.spec, self.hp, self.dataset)
        parts = _build_parts(config, self.spec, self.hp, self.dataset, process, recorded)
        self.placement, self.precision_choice, self.real_batches, self.networks, self.iteration = parts
        self.fixed_noise, self.fixed_labels = _fixed_inputs(config, self.hp, self.spec.conditional, self.device)
        self.checkpointer = Checkpointer(
            path,
            run_identity(self.spec, self.hp, self.dataset),
            self.networks,
            self.real_batches.sampler,
            self.placement,
            config,
            config.keep_checkpoints,
        )
        if resume is not None:
            self.step, self.train_seconds, self.resumed_from = self.checkpointer.restore(
                self.dataset.qualified_name
            )
            distributed.on_main(lambda: self.run_dir.truncate_metrics(self.step))
            self.finishing = _finishing(self.run_dir, self.step, config.steps, cli)
        else:
            description = (self.spec, self.hp, self.dataset, self.placement, self.precision_choice)
            self.run_dir.create(replace, describe_run(config, *description, self.distributed_info))

    # What callbacks, the CLI, the benchmarks and the tests read.
    directory = property(lambda self: self.run_dir.path)
    device = property(lambda self: self.placement.device)
    rank = property(lambda self: self.placement.rank)
    world_size = property(lambda self: self.placement.world_size)
    G = property(lambda self: self.networks.G)
    D = property(lambda self: self.networks.D)
    ema = property(lambda self: self.networks.ema)
    distributed_info = property(lambda self: self.networks.distributed_info)

    def train_step(self) -> tuple[torch.Tensor, torch.Tensor]:
        """One iteration (all critic steps and one generator step); (D loss, G loss) as device tensors."""
        return self.iteration(self.step)

    # -- the loop -------------------------------------------------------------------------------------
    def run(self) -> Run:
        try:
            return self._run_on_every_rank()
        finally:
            self.run_dir.release()  # the same process may resume it (a notebook, a test, then torchrun)
            self.callbacks.notify(self, "on_run_end")

    def _run_on_every_rank(self) -> Run:
        if self.world_size == 1:
            return self._run()
        hint = (
            f"Checkpoints are in {self.directory}; continue with "
            f"`torchrun ... -m ganzoo train --resume {self.directory} --steps {self.config.steps}`."
        )
        with distributed.explain_collective_failures(hint):
            try:
                return self._run()
            except (TrainingDiverged, TrainingInterrupted) as exc:
                distributed.raised_on_every_rank(exc)  # the ranks agreed on it
                raise

    def _run(self) -> Run:
        config, single = self.config, self.world_size == 1
        log = MetricsLog(
            self.run_dir, self.device, self.hp.batch_size * self.hp.critic_steps, self.train_seconds
        )
        show = config.progress and self.placement.is_main
        with (
            stop_requests(self._request_stop),
            progress_bar(self.spec.name, config.steps, self.step, show) as advance,
        ):
            self.G.train(), self.D.train()
            while self.step < config.steps and not self._stop_requested:
                started = time.perf_counter()
                d_loss, g_loss = self.iteration(self.step)
                self.step += 1
                if self.ema:
                    self.ema.update(self.G, self.step)
                log.add(self.step, d_loss, g_loss)
                self.train_seconds += time.perf_counter() - started

                log_due = self.step % config.log_every == 0 or self.step == config.steps
                checkpoint_due = (
                    config.checkpoint_every and self.step % config.checkpoint_every == 0
                ) or self.step == config.steps
                agreed_stop = None
                if not single and (log_due or checkpoint_due):
                    # The ranks agree here only (a per-step agreement would stall the GPU): on the first
                    # non-finite step, on stopping (signals reach them at different steps), on mean losses.
                    agreed_stop = distributed.agree(log.first_bad_step, self._stop_signal)
                    if log_due:
                        log.average_over_ranks()
                if log_due or checkpoint_due or (single and self._stop_signal is not None):
                    raise_if_diverged(log.bad_step(), self.directory, self.spec.name)
                advance(self.step, self._write_log(log) if log_due else None)
                if config.sample_every and self.step % config.sample_every == 0:
                    self.write_samples()
                if checkpoint_due:
                    self.save_checkpoint()
                self.callbacks.notify(self, "on_step", self.step)
                if agreed_stop:
                    self._stop_signal = agreed_stop
                if self._stop_signal is not None and (single or agreed_stop):
                    self._interrupt()
        if self._stop_requested and single:
            # Stopped early by a callback: log the last partial interval and keep the run resumable.
            raise_if_diverged(log.bad_step(), self.directory, self.spec.name)
            self._write_log(log)
            if not ckpt.checkpoint_path(self.directory, self.step).exists():
                self.save_checkpoint()
        if not self.run_dir.samples_path(self.step).is_file():
            self.write_samples()
        self._write_final_generator()
        return Run(
            self.directory, self.step, distributed.on_main(lambda: ckpt.read_run_config(self.directory))
        )

    def _write_log(self, log: MetricsLog) -> dict[str, Any] | None:
        record = log.write(self.step, self.train_seconds, self.G, self.D)
        if record is not None:
            self.callbacks.notify(self, "on_log", self.step, record)
        return record

    def sampling_generator(self):
        """The EMA generator when there is one (eval mode), else G."""
        return self.networks.sampling_generator()

    @torch.no_grad()
    def write_samples(self) -> Path:
        G = self.sampling_generator()
        was_training = G.training
        G.eval()
        fixed = (self.fixed_noise,) if self.fixed_labels is None else (self.fixed_noise, self.fixed_labels)
        images = to_uint8(G(*fixed))
        G.train(was_training)
        path = self.run_dir.write_samples(images, self.step, self.spec.name)
        self.callbacks.notify(self, "on_samples", self.step, images)
        return path

    def save_checkpoint(self) -> Path:
        path = self.checkpointer.save(self.step, self.train_seconds)
        self.callbacks.notify(self, "on_checkpoint", self.step, path)
        return path

    def stop(self) -> None:
        """End the run after the current step, as if it had reached its step count (for callbacks)."""
        self._stop_requested = True

    def report_evaluation_start(self, what: str) -> None:
        self.callbacks.notify(self, "on_evaluation_start", self.step, what)

    def report_evaluation(self, results: dict[str, Any]) -> None:
        self.callbacks.notify(self, "on_evaluation", self.step, results)

    def _write_final_generator(self) -> None:
        generator = self.sampling_generator().state_dict()
        self.run_dir.write_final_generator({"step": self.step, **self.checkpointer.identity, "ema_generator": generator})

    # -- interruption ---------------------------------------------------------------------------------
    def _request_stop(self, signum: int) -> None:
        self._stop_signal = signum

    def _interrupt(self) -> None:
        path = self.save_checkpoint()
        raise interrupted(
            self._stop_signal, self.step, path, self.directory, self.config.steps, self.world_size
        )


def _configured(
    config: TrainConfig, resume: str | os.PathLike | None, process: tuple
) -> tuple[TrainConfig, Path | None, dict[str, Any] | None]:
    """A new run's config as given; a resumed run's saved one (only steps and device as requested), its
    path and the placement it recorded."""
    if resume is None:
        config.validate()
        return config, None, None
    path = Path(resume)
    saved = distributed.on_main(lambda: RunDirectory(path, writes=process[0] == 0).held_config())
    config = _resumed_config(path, saved["train"], config)
    config.validate()
    return config, path, _recorded_placement(saved)


def _training_data(config: TrainConfig, spec: ModelSpec, dataset: ImageDataset | None) -> ImageDataset:
    """The given images, or the configured dataset's train split, once its shape is known to fit the model."""
    if dataset is None:
        config.check_shape_before_loading(spec)
        dataset = distributed.main_first(lambda: load_dataset(config.dataset, "train", config.dataset_options()))
    spec.check_image_shape(dataset.image_shape)
    return dataset


def _finishing(run_dir: RunDirectory, step: int, steps: int, cli: bool) -> bool:
    """Whether a resumed run is at its final step but lacks generator.pt or its final grid (killed right after
    its last checkpoint): its resume writes them. A finished run is not resumed to the same step count."""
    if step < steps:
        return False
    if not distributed.on_main(lambda: run_dir.is_finished(step)):
        return True
    raise UsageError(
        f"{run_dir.path} is already at step {step}; pass a larger {'--steps' if cli else 'steps='} to continue it."
    )


def _fixed_inputs(
    config: TrainConfig, hp: Hyperparameters, conditional: bool, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The sample grids' latents, and for a conditional model every class in turn (image i: class i mod K)."""
    noise = torch.randn(
        config.grid_size, hp.latent_dim, generator=torch.Generator().manual_seed(config.seed + 2)
    ).to(device)
    labels = balanced_labels(config.grid_size, hp.num_classes, device) if conditional else None
    return noise, labels


def _build_parts(
    config: TrainConfig,
    spec: ModelSpec,
    hp: Hyperparameters,
    dataset: ImageDataset,
    process: tuple,
    recorded: dict[str, Any] | None,
) -> tuple[Placement, dict[str, Any], RealBatches, Networks, Iteration]:
    """The seeded networks, then the placement decided once from them, the data and the iteration."""
    seed_everything(config.seed)
    G, D = spec.build(dataset.image_shape, hp)
    check_model_outputs(spec, G, D)
    loss = zoo().losses.get(hp.loss)
    penalty = zoo().penalties.get(hp.penalty) if hp.penalty else None
    augment = build_pipeline(config.augment)
    conditioning = Conditioning(spec) if spec.conditional else None
    what_d_sees = {"augment": augment, "conditioning": conditioning}
    placed = functools.partial(place_networks, hp=hp, compile=config.compile, has_penalty=penalty is not None)

    def probe_iteration(candidate: Placement) -> Callable[[], Any]:
        """One iteration on copies of G and D in ``candidate``, for the precision probe."""
        nets = placed(
            copy.deepcopy(G), copy.deepcopy(D), placement=candidate, ema_decay=None, sync_batchnorm=False
        )
        subset = slice(0, 4 * hp.batch_size)
        batches = real_batches_for(dataset, subset, hp.batch_size, config.seed, candidate, conditioning)
        iteration = Iteration(nets, loss, penalty, hp, candidate, batches, config.seed, **what_d_sees)
        return lambda: iteration(0)

    recorded = recorded or {}
    identity = {"model": spec.name, "image_shape": list(dataset.image_shape), "hp": dataclasses.asdict(hp)}
    if config.augment:  # it changes the iteration's cost; absent otherwise, so cached probes stay valid
        identity["augment"] = list(config.augment)
    placement, how = decide_placement(
        requested_device=config.device,
        amp=recorded.get("bf16_autocast") if config.amp is None else config.amp,
        channels_last=recorded.get("channels_last") if config.channels_last is None else config.channels_last,
        discriminator=D,
        batch_size=hp.batch_size,
        process=process,
        probe_key=precision.cache_key(identity),
        make_iteration=probe_iteration,
    )
    real_batches = real_batches_for(
        dataset, slice(None), hp.batch_size, config.seed + 1, placement, conditioning
    )
    ema_decay = config.ema_decay if config.ema else None
    networks = placed(G, D, placement=placement, ema_decay=ema_decay, sync_batchnorm=spec.sync_batchnorm)
    iteration = Iteration(networks, loss, penalty, hp, placement, real_batches, config.seed, **what_d_sees)
    return placement, how, real_batches, networks, iteration


def real_batches_for(
    dataset: ImageDataset,
    subset: slice,
    batch_size: int,
    seed: int,
    placement: Placement,
    conditioning: Conditioning | None,
) -> RealBatches:
    """The real batches of ``dataset[subset]``, with their labels for a conditional model only."""
    if conditioning is None:
        return RealBatches(dataset.images[subset], batch_size, seed, placement)
    return LabeledBatches(dataset.images[subset], dataset.labels[subset], batch_size, seed, placement)


def _recorded_placement(saved: dict[str, Any]) -> dict[str, Any]:
    """The precision a run trained in, so that it resumes in the same one (ganzoo.engine.schema has checked
    its types). Runs written before placement was recorded have only ``bf16_autocast``, and channels_last
    went with it for convolution models."""
    recorded = saved.get("placement")
    if recorded is None:
        amp = saved.get("bf16_autocast")
        recorded = {"bf16_autocast": amp, "channels_last": amp}
    return recorded


def _resumed_config(path: Path, saved: dict[str, Any], requested: TrainConfig) -> TrainConfig:
    try:
        config = TrainConfig.from_saved(saved, requested)
        config.validate()
    except (TypeError, ValueError) as exc:
        raise ckpt.CheckpointError(
            f"{path / ckpt.CONFIG_FILE} holds a setting of the wrong type "
            f"({exception_line(exc)}); it was edited or damaged."
        ) from None
    return config


def train(
    model: str = "dcgan",
    dataset: str = "mnist-10k",
    steps: int = 2000,
    *,
    callbacks: list[Callback] | None = None,
    resume: str | os.PathLike | None = None,
    overwrite: bool = False,
    progress: bool | None = None,
    **config: Any,
) -> Run:
    """Train ``model`` on ``dataset`` for ``steps`` generator steps and return the :class:`Run`.

    Keyword arguments are :class:`TrainConfig` fields (``out``, ``seed``, ``overrides``, ``device`` ...).
    ``progress``: the CLI's progress bar, drawn in a terminal or a Jupyter notebook; None (the default)
    shows it there only, False never. An existing ``out`` is continued with ``resume=`` or replaced with
    ``overwrite=True``, never silently.
    """
    if progress is None:
        from ganzoo.console import is_interactive

        progress = is_interactive()
    trainer = Trainer(
        TrainConfig(model=model, dataset=dataset, steps=steps, progress=progress, **config),
        callbacks=callbacks,
        resume=resume,
        overwrite=overwrite,
    )
    return trainer.run()
