"""The Python API as a user meets it: the README's snippet, sampling without autograd, images for FID,
errors that name ``ganzoo.train``'s arguments, and progress shown or not."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

import ganzoo

README = Path(__file__).resolve().parents[1] / "README.md"
TINY = dict(overrides=["generator_width=8", "discriminator_width=8"], batch_size=16, sample_every=0)


def readme_snippet() -> str:
    section = README.read_text().split("## Python API", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_sample_runs_without_autograd_and_converts_to_uint8_for_fid():
    G, _ = ganzoo.get_model("dcgan").build((1, 28, 28), ganzoo.get_model("dcgan").defaults.replace(
        generator_width=8, discriminator_width=8))
    G.eval()
    images = G.sample(4, generator=torch.Generator().manual_seed(0))
    assert not images.requires_grad and images.numpy().shape == (4, 1, 28, 28)
    pixels = ganzoo.to_uint8(images)
    assert pixels.dtype == torch.uint8 and pixels.shape == (4, 1, 28, 28)
    fake = ganzoo.sample_uint8(G, 40, seed=1)
    real = ganzoo.load_dataset("mnist-10k:test").images[:40]
    result = ganzoo.compute_fid_kid(real, fake, kid_subset_size=20)
    assert result.fid > 0 and result.n_fake == 40
    # Training still goes through G(z), which keeps autograd.
    assert G(G.sample_latent(2)).requires_grad


@pytest.mark.parametrize("existing_run", [False, True], ids=["fresh directory", "runs/dcgan exists"])
def test_the_readme_python_snippet_runs_as_written(tmp_path, monkeypatch, existing_run):
    """The snippet with fewer steps and samples; where the Training section made runs/dcgan, too."""
    monkeypatch.chdir(tmp_path)
    if existing_run:
        ganzoo.train(steps=2, out="runs/dcgan", **TINY)
    code = readme_snippet()
    assert "steps=2000" in code and "10_000" in code
    code = code.replace("steps=2000", "steps=3").replace("10_000", "300")
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert str(namespace["pixels"].dtype) == "uint8"  # a numpy array
    assert namespace["result"].fid > 0
    assert namespace["run"].directory.parent == Path("runs")


def test_an_existing_run_names_the_python_arguments(tmp_path):
    ganzoo.train(steps=2, out=str(tmp_path / "run"), **TINY)
    with pytest.raises(ganzoo.UsageError) as error:
        ganzoo.train(steps=4, out=str(tmp_path / "run"), **TINY)
    message = str(error.value)
    assert "resume=" in message and "overwrite=True" in message and "--" not in message
    run = ganzoo.train(steps=4, out=str(tmp_path / "run"), overwrite=True, **TINY)
    assert run.step == 4
    with pytest.raises(ganzoo.UsageError, match=r"larger steps="):
        ganzoo.train(steps=4, resume=tmp_path / "run")


def test_train_shows_progress_unless_told_not_to(tmp_path, monkeypatch):
    from ganzoo.engine import trainer

    shown = []
    real = trainer.progress_bar

    def recording(model, total, start, enabled):
        shown.append(enabled)
        return real(model, total, start, False)

    monkeypatch.setattr(trainer, "progress_bar", recording)
    monkeypatch.setattr("ganzoo.console.is_interactive", lambda: True)
    ganzoo.train(steps=1, out=str(tmp_path / "a"), **TINY)
    ganzoo.train(steps=1, out=str(tmp_path / "b"), progress=False, **TINY)
    monkeypatch.setattr("ganzoo.console.is_interactive", lambda: False)
    ganzoo.train(steps=1, out=str(tmp_path / "c"), **TINY)
    assert shown == [True, False, False]


def test_a_misspelt_set_key_suggests_the_right_one():
    from ganzoo.spec import parse_override

    with pytest.raises(ganzoo.UsageError, match=r"Did you mean 'generator_lr'\?") as error:
        parse_override(ganzoo.get_model("dcgan").defaults, "genrator_lr=1e-4")
    assert "unknown hyperparameter 'genrator_lr'" in str(error.value) and "critic_steps" in str(error.value)
    with pytest.raises(ganzoo.UsageError, match="expects key=value"):
        parse_override(ganzoo.get_model("dcgan").defaults, "generator_lr")
