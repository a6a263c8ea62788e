"""Runs and checkpoints written before the engine became a package still resume, exactly, and sample."""

from __future__ import annotations

import shutil
from pathlib import Path

import torch

import ganzoo
from ganzoo import checkpoint as ckpt

LEGACY = Path(__file__).parent / "fixtures" / "legacy-run-v0.1"


def test_a_run_written_by_the_old_engine_resumes_to_the_same_weights(tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(LEGACY / "run", run_dir)
    run = ganzoo.train(resume=run_dir, steps=4)
    assert run.step == 4 and [m["step"] for m in run.metrics()] == [2, 4]
    resumed = torch.load(ckpt.checkpoint_path(run_dir, 4), weights_only=True)
    expected = torch.load(LEGACY / "expected_step_4.pt", weights_only=True)
    for network in ("generator", "discriminator", "ema_generator"):
        for key, value in expected[network].items():
            assert torch.equal(resumed[network][key], value), (network, key)
    assert ganzoo.load_generator(run_dir).sample(2).shape == (2, 1, 28, 28)


def test_a_final_generator_written_by_the_old_engine_samples():
    G = ganzoo.load_generator(LEGACY / "generator_step_4.pt")
    expected = torch.load(LEGACY / "expected_step_4.pt", weights_only=True)["ema_generator"]
    assert all(torch.equal(G.state_dict()[key], value) for key, value in expected.items())
    with torch.no_grad():
        images = G.sample(3, generator=torch.Generator().manual_seed(0))
    assert images.shape == (3, 1, 28, 28) and images.abs().max() <= 1
