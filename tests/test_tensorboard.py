"""`ganzoo train --tensorboard`: losses, gradient norms, images/s, evaluations and sample grids as TensorBoard
event files in the run directory, read back with TensorBoard's own reader."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

import ganzoo
from ganzoo.cli import cli
from ganzoo.engine import Callback

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")

TINY = ["--set", "generator_width=8", "--set", "discriminator_width=8", "--batch-size", "16"]


def events(run_dir):
    accumulator = event_accumulator.EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"images": 0})
    accumulator.Reload()
    return accumulator


def test_train_with_tensorboard_writes_losses_norms_speed_and_grids(tmp_path):
    run_dir = tmp_path / "run"
    args = ["train", "--model", "dcgan", "--steps", "10", "--log-every", "5", "--sample-every", "5",
            "--out", str(run_dir), "--no-progress", "--tensorboard", *TINY]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "tensorboard --logdir" in result.output
    logged = events(run_dir)
    metrics = ganzoo.engine.read_metrics(run_dir / "metrics.jsonl")
    for field, tag in [("d_loss", "loss/discriminator"), ("g_loss", "loss/generator"),
                       ("d_grad_norm", "grad_norm/discriminator"), ("g_grad_norm", "grad_norm/generator"),
                       ("images_per_second", "speed/images_per_second")]:
        scalars = logged.Scalars(tag)
        assert [s.step for s in scalars] == [5, 10]
        assert [s.value for s in scalars] == pytest.approx([m[field] for m in metrics], rel=1e-6)
    grids = logged.Images("samples")
    assert [g.step for g in grids] == [5, 10]
    assert grids[0].width > 28 * 8 and grids[0].encoded_image_string.startswith(b"\x89PNG")


def test_evaluations_are_logged_and_a_resumed_run_continues_the_events(tmp_path):
    class Evaluate(Callback):
        def on_step(self, trainer, step):
            if step % 4 == 0:
                trainer.report_evaluation({"step": step, "fid": 100.0 / step, "kid": None})

    from ganzoo.engine.tensorboard import TensorBoardLogger

    config = dict(model="vanilla", overrides=["generator_width=8", "discriminator_width=8"], batch_size=16,
                  sample_every=0, checkpoint_every=4, log_every=4, out=str(tmp_path / "run"))
    ganzoo.train(steps=4, callbacks=[TensorBoardLogger(), Evaluate()], **config)
    ganzoo.train(steps=8, resume=tmp_path / "run", callbacks=[TensorBoardLogger(), Evaluate()])
    logged = events(tmp_path / "run")
    assert [(s.step, s.value) for s in logged.Scalars("eval/fid")] == [(4, 25.0), (8, 12.5)]
    assert "eval/kid" not in logged.Tags()["scalars"]  # None is not a number
    assert [s.step for s in logged.Scalars("loss/generator")] == [4, 8]


def test_without_the_package_the_option_says_what_to_install(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_tensorboard(name, *args, **kwargs):
        if name == "torch.utils.tensorboard":
            raise ImportError("No module named 'tensorboard'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tensorboard)
    result = CliRunner().invoke(cli, ["train", "--steps", "1", "--out", str(tmp_path / "r"), "--tensorboard"])
    assert result.exit_code == 2 and "ganzoo[tensorboard]" in result.output
    assert not (tmp_path / "r").exists()
