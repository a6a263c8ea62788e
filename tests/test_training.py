"""The engine: exact resume, interruption, crash safety, divergence, run directories and safe loading."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from PIL import Image

import ganzoo
from ganzoo import checkpoint as ckpt
from ganzoo.engine import Callback, TrainConfig, Trainer, TrainingDiverged

TINY = ["generator_width=8", "discriminator_width=8"]


def tiny_config(out: Path, **changes) -> dict:
    config = dict(model="dcgan", overrides=TINY, batch_size=16, sample_every=0, checkpoint_every=5, log_every=5)
    config.update(out=str(out), **changes)
    return config


def weights(path: Path) -> dict:
    return torch.load(path, weights_only=True)


@pytest.mark.parametrize("model", ["vanilla", "dcgan", "wgan-gp"])
def test_resume_is_exact(tmp_path, model):
    config = tiny_config(tmp_path / "straight", model=model)
    ganzoo.train(steps=10, **config)
    ganzoo.train(steps=5, **{**config, "out": str(tmp_path / "split")})
    ganzoo.train(steps=10, resume=tmp_path / "split")
    straight = weights(ckpt.checkpoint_path(tmp_path / "straight", 10))
    split = weights(ckpt.checkpoint_path(tmp_path / "split", 10))
    for network in ("generator", "discriminator", "ema_generator", "optimizer_generator"):
        a, b = straight[network], split[network]
        if network.startswith("optimizer"):
            a, b = a["state"][0], b["state"][0]
        for key in a:
            assert torch.equal(torch.as_tensor(a[key]), torch.as_tensor(b[key])), (network, key)


def test_run_directory_holds_everything_needed(tmp_path):
    run = ganzoo.train(steps=10, **tiny_config(tmp_path / "run", sample_every=5))
    config = json.loads((run.directory / "config.json").read_text())
    assert config["model"] == "dcgan" and config["train"]["seed"] == 0
    assert config["dataset"]["fingerprint"].startswith("sha256:")
    assert config["versions"]["torch"] == torch.__version__
    assert "dcgan" in config["versions"]["plugins"]
    lines = run.metrics()
    assert [line["step"] for line in lines] == [5, 10]
    assert {"d_loss", "g_loss", "d_grad_norm", "g_grad_norm", "images_per_second"} <= set(lines[0])
    assert sorted(p.name for p in (run.directory / "samples").iterdir()) == ["step_000005.png", "step_000010.png"]
    assert run.generator_path.is_file()
    G = ganzoo.load_generator(run.directory)
    assert not G.training and G.sample(3).shape == (3, 1, 28, 28)


@pytest.mark.parametrize(
    ("model", "compile_"), [("vanilla", False), ("dcgan", False), ("wgan-gp", False), ("dcgan", True)]
)
def test_the_generator_step_leaves_the_discriminator_gradient_alone(tmp_path, model, compile_):
    """D's gradients after a step are the critic step's (what d_grad_norm reports), none from the G step,
    and G still gets its gradient through D; with --compile too."""
    config = TrainConfig(**tiny_config(tmp_path / "run", model=model), steps=1, progress=False, compile=compile_)
    trainer = Trainer(config)
    at_critic_step = []
    critic_step = trainer.networks.opt_D.step
    trainer.networks.opt_D.step = lambda: (at_critic_step.append([p.grad.clone() for p in trainer.D.parameters()]), critic_step())
    trainer.train_step()
    after = [p.grad for p in trainer.D.parameters()]
    assert len(after) == len(at_critic_step[-1]) > 0
    for final, critic in zip(after, at_critic_step[-1]):
        assert torch.equal(final, critic)
    assert all(p.requires_grad for p in trainer.D.parameters())
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in trainer.G.parameters())


def test_only_the_last_checkpoints_are_kept(tmp_path):
    run = ganzoo.train(steps=20, **tiny_config(tmp_path / "run", keep_checkpoints=2))
    assert [step for step, _ in ckpt.list_checkpoints(run.directory)] == [15, 20]


def test_an_existing_run_directory_is_never_overwritten(tmp_path):
    config = tiny_config(tmp_path / "run")
    ganzoo.train(steps=5, **config)
    before = (tmp_path / "run" / "config.json").read_bytes()
    with pytest.raises(ganzoo.UsageError, match="already exists.*resume="):
        ganzoo.train(steps=5, **config)
    assert (tmp_path / "run" / "config.json").read_bytes() == before
    ganzoo.train(steps=5, overwrite=True, **{**config, "seed": 3})
    assert json.loads((tmp_path / "run" / "config.json").read_text())["train"]["seed"] == 3


def test_overwrite_refuses_a_directory_that_is_not_a_run(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    with pytest.raises(ganzoo.UsageError, match="not a ganzoo run directory"):
        ganzoo.train(steps=5, overwrite=True, **tiny_config(tmp_path / "mine"))
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "precious"


class PoisonAt(Callback):
    """Simulates divergence: fills D's weights with NaN after a given step."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step(self, trainer, step):
        if step == self.step:
            with torch.no_grad():
                for parameter in trainer.D.parameters():
                    parameter.fill_(float("nan"))


def test_non_finite_losses_stop_the_run_and_keep_the_last_good_checkpoint(tmp_path):
    trainer = Trainer(TrainConfig(**tiny_config(tmp_path / "run"), steps=20, progress=False), callbacks=[PoisonAt(7)])
    with pytest.raises(TrainingDiverged, match="non-finite at step 8.*step 5"):
        trainer.run()
    assert [step for step, _ in ckpt.list_checkpoints(tmp_path / "run")] == [5]
    state = ckpt.load_checkpoint(ckpt.checkpoint_path(tmp_path / "run", 5))
    assert all(torch.isfinite(t).all() for t in state["discriminator"].values() if t.is_floating_point())


class Evil:
    def __reduce__(self):
        return (os.system, (f"touch {Evil.marker}",))


def test_a_checkpoint_with_a_pickled_object_is_refused_without_running_it(tmp_path):
    Evil.marker = tmp_path / "pwned"
    run = ganzoo.train(steps=5, **tiny_config(tmp_path / "run"))
    path = ckpt.checkpoint_path(run.directory, 5)
    state = torch.load(path, weights_only=True)
    state["payload"] = Evil()
    with open(path, "wb") as handle:
        pickle.dump(state, handle)  # torch.save would also do; plain pickle is the classic attack
    with pytest.raises(ganzoo.CheckpointError):
        ckpt.load_checkpoint(path)
    torch.save({**state}, path)
    with pytest.raises(ganzoo.CheckpointError, match="refused"):
        ckpt.load_checkpoint(path)
    assert not Evil.marker.exists()


@pytest.mark.parametrize(
    "content, message",
    [(b"", "empty"), (b"\x00garbage" * 50, "truncated or not"), (None, "no run directory or checkpoint")],
    ids=["empty", "random-bytes", "missing"],
)
def test_broken_checkpoint_files_give_clear_errors(tmp_path, content, message):
    path = tmp_path / "model.pt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ganzoo.CheckpointError, match=message):
        ganzoo.load_generator(path)


def test_a_truncated_checkpoint_is_refused_and_resume_falls_back_to_the_previous_one(tmp_path):
    run = ganzoo.train(steps=10, **tiny_config(tmp_path / "run"))
    newest = ckpt.checkpoint_path(run.directory, 10)
    newest.write_bytes(newest.read_bytes()[:1000])
    with pytest.raises(ganzoo.CheckpointError, match="truncated"):
        ckpt.load_checkpoint(newest)
    state, path = ckpt.latest_checkpoint(run.directory)
    assert state["step"] == 5 and path == ckpt.checkpoint_path(run.directory, 5)


def test_a_checkpoint_of_a_newer_format_is_refused(tmp_path):
    path = tmp_path / "future.pt"
    torch.save({"format_version": ckpt.FORMAT_VERSION + 1}, path)
    with pytest.raises(ganzoo.CheckpointError, match="newer"):
        ckpt.load_checkpoint(path)


def test_resume_refuses_a_checkpoint_of_another_model(tmp_path):
    ganzoo.train(steps=5, **tiny_config(tmp_path / "a"))
    ganzoo.train(steps=5, **tiny_config(tmp_path / "b", model="vanilla"))
    foreign = ckpt.checkpoint_path(tmp_path / "b", 5)
    os.replace(foreign, ckpt.checkpoint_path(tmp_path / "a", 6))
    with pytest.raises(ganzoo.CheckpointError, match="vanilla"):
        ganzoo.train(steps=10, resume=tmp_path / "a")


def _train_command(out: Path, steps: int, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "ganzoo", "train", "--model", "dcgan", "--steps", str(steps), "--out", str(out),
        "--set", "generator_width=8", "--set", "discriminator_width=8", "--batch-size", "16",
        "--checkpoint-every", "20", "--log-every", "10", "--sample-every", "0", "--no-progress", *extra,
    ]


def _wait_for(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the training subprocess")
        time.sleep(0.05)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupt_writes_a_checkpoint_and_says_how_to_resume(tmp_path, signum):
    out = tmp_path / "run"
    process = subprocess.Popen(_train_command(out, 100000), stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    _wait_for(lambda: (out / "metrics.jsonl").exists())
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 128 + signum
    assert "Traceback" not in stderr
    assert f"ganzoo train --resume {out} --steps 100000" in stderr
    step, path = ckpt.list_checkpoints(out)[-1]
    assert ckpt.load_checkpoint(path)["step"] == step > 0


def test_sigkill_loses_only_steps_since_the_last_checkpoint_then_resume_finishes(tmp_path):
    out = tmp_path / "run"
    process = subprocess.Popen(_train_command(out, 100000), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for(lambda: len(ckpt.list_checkpoints(out)) >= 2)
    process.kill()
    process.wait(timeout=30)
    saved = ckpt.list_checkpoints(out)[-1][0]
    leftovers = [p.name for p in (out / "checkpoints").iterdir() if not p.name.startswith("step_")]
    for _, path in ckpt.list_checkpoints(out):
        ckpt.load_checkpoint(path)  # none is corrupt
    result = subprocess.run(
        [sys.executable, "-m", "ganzoo", "train", "--resume", str(out), "--steps", str(saved + 20), "--no-progress"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert ckpt.load_checkpoint(ckpt.checkpoint_path(out, saved + 20))["step"] == saved + 20
    assert all(name.startswith(".step_") for name in leftovers)  # at most a temp file from the killed write


def test_cli_train_then_sample_writes_a_grid_marked_synthetic(tmp_path):
    out = tmp_path / "run"
    result = subprocess.run(_train_command(out, 20), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "run directory" in result.stdout
    grid = tmp_path / "digits.png"
    result = subprocess.run(
        [sys.executable, "-m", "ganzoo", "sample", str(out), "--grid", "4x4", "-o", str(grid)],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    image = Image.open(grid)
    assert image.size == (4 * 30 + 2, 4 * 30 + 2)
    assert image.text["ganzoo:synthetic"] == "true" and image.text["ganzoo:model"] == "dcgan"
    assert image.text["ganzoo:checkpoint-sha256"] == ckpt.file_sha256(out / "generator.pt")
    again = subprocess.run(
        [sys.executable, "-m", "ganzoo", "sample", str(out), "-o", str(grid)], capture_output=True, text=True
    )
    assert again.returncode == 2 and "already exists" in again.stderr and "Traceback" not in again.stderr


def test_sample_formats(tmp_path):
    run = ganzoo.train(steps=5, **tiny_config(tmp_path / "run"))
    from click.testing import CliRunner

    from ganzoo.cli import cli

    runner = CliRunner()
    result = runner.invoke(cli, ["sample", str(run.directory), "--n", "5", "--format", "npz", "-o", str(tmp_path / "s.npz")])
    assert result.exit_code == 0, result.output
    import numpy as np

    with np.load(tmp_path / "s.npz", allow_pickle=False) as archive:
        assert archive["images"].shape == (5, 1, 28, 28) and archive["images"].dtype == np.uint8
    result = runner.invoke(cli, ["sample", str(run.directory), "--n", "3", "--format", "png-dir", "-o", str(tmp_path / "d")])
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "d").glob("*.png"))) == 3
    result = runner.invoke(cli, ["sample", str(run.directory), "--grid", "0x4"])
    assert result.exit_code == 2 and "--grid" in result.output


def test_same_seed_same_run(tmp_path):
    a = ganzoo.train(steps=5, **tiny_config(tmp_path / "a"))
    b = ganzoo.train(steps=5, **tiny_config(tmp_path / "b"))
    c = ganzoo.train(steps=5, **tiny_config(tmp_path / "c", seed=1))
    z = torch.randn(4, 100)
    outputs = [r.load_generator()(z) for r in (a, b, c)]
    assert torch.equal(outputs[0], outputs[1]) and not torch.equal(outputs[0], outputs[2])


class StopAt(Callback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_step(self, trainer, step):
        if step == self.step:
            trainer.stop()


def test_a_callback_can_end_the_run_early_and_it_stays_resumable(tmp_path):
    trainer = Trainer(TrainConfig(**tiny_config(tmp_path / "run"), steps=50, progress=False), callbacks=[StopAt(7)])
    run = trainer.run()
    assert run.step == 7 and run.generator_path.is_file()
    assert ckpt.list_checkpoints(run.directory)[-1][0] == 7
    assert ganzoo.train(steps=9, resume=run.directory).step == 9


def test_a_failed_start_leaves_no_run_directory(tmp_path):
    with pytest.raises(ganzoo.UsageError, match="unknown dataset"):
        ganzoo.train(steps=5, **tiny_config(tmp_path / "run", dataset="nosuchdata"))
    assert not (tmp_path / "run").exists()
