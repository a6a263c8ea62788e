"""Precision and memory format are chosen by a timed probe of the model's own iteration, cached, recorded in
config.json and kept on resume; an explicit request is never probed."""

from __future__ import annotations

import json

import pytest
import torch

import ganzoo
from ganzoo.engine import precision
from ganzoo.engine.precision import Setting

FP32, FP32_CL, BF16, BF16_CL = Setting(False, False), Setting(False, True), Setting(True, False), Setting(True, True)
TINY = dict(overrides=["generator_width=4", "discriminator_width=4"], batch_size=8, sample_every=0, log_every=2)


@pytest.fixture
def own_cache(tmp_path, monkeypatch):
    path = tmp_path / "precision.json"
    monkeypatch.setenv(precision.CACHE_ENV, str(path))
    return path


@pytest.fixture
def probes(monkeypatch):
    """Counts the probes and makes their outcome known: bf16 channels_last is measured fastest."""
    calls = []

    def fake_measure(iterations):
        calls.append(sorted(s.label for s in iterations))
        for iteration in iterations.values():
            iteration()  # the probe's iterations must run in their placement
        return {s: 1.0 - 0.4 * s.amp - 0.1 * s.channels_last for s in iterations}

    monkeypatch.setattr(precision, "measure", fake_measure)
    return calls


def test_bf16_is_chosen_only_when_clearly_faster():
    assert precision.pick({FP32: 1.00, BF16: 0.97}) == FP32
    assert precision.pick({FP32: 1.00, FP32_CL: 0.90, BF16: 0.88}) == FP32_CL
    assert precision.pick({FP32: 1.00, BF16: 0.80, BF16_CL: 0.70}) == BF16_CL
    assert precision.pick({BF16: 1.0, BF16_CL: 0.9}) == BF16_CL


def test_only_open_settings_are_candidates():
    assert precision.candidates(None, None, convolutional=True) == [FP32, FP32_CL, BF16, BF16_CL]
    assert precision.candidates(None, None, convolutional=False) == [FP32, BF16]
    assert precision.candidates(False, None, convolutional=True) == [FP32, FP32_CL]
    assert precision.candidates(True, False, convolutional=True) == [BF16]


def test_the_probe_runs_once_per_configuration_and_is_recorded(tmp_path, own_cache, probes):
    first = ganzoo.train(model="dcgan", steps=2, out=str(tmp_path / "a"), **TINY)
    assert probes == [["bf16", "bf16 channels_last", "fp32", "fp32 channels_last"]]
    recorded = first.config["placement"]
    assert recorded["chosen_by"] == "probe" and recorded["bf16_autocast"] and recorded["channels_last"]
    assert set(recorded["iteration_seconds"]) == {"fp32", "fp32 channels_last", "bf16", "bf16 channels_last"}
    second = ganzoo.train(model="dcgan", steps=2, out=str(tmp_path / "b"), **TINY)
    assert len(probes) == 1 and second.config["placement"]["chosen_by"] == "cache"
    ganzoo.train(model="vanilla", steps=2, out=str(tmp_path / "c"), **TINY)  # another model: its own probe
    assert probes[-1] == ["bf16", "fp32"]  # no channels_last candidate for an MLP


def test_an_explicit_request_is_not_probed(tmp_path, own_cache, probes):
    run = ganzoo.train(model="dcgan", steps=2, out=str(tmp_path / "a"), amp=False, channels_last=False, **TINY)
    assert probes == [] and run.config["placement"] == {
        "bf16_autocast": False, "channels_last": False, "chosen_by": "request"
    }  # fmt: skip
    ganzoo.train(model="dcgan", steps=2, out=str(tmp_path / "b"), amp=False, **TINY)
    assert probes == [["fp32", "fp32 channels_last"]]


def test_a_resumed_run_keeps_its_precision_whatever_the_cache_says_now(tmp_path, own_cache, probes):
    run = ganzoo.train(model="dcgan", steps=2, out=str(tmp_path / "a"), checkpoint_every=2, **TINY)
    cache = json.loads(own_cache.read_text())
    for entry in cache.values():
        entry["amp"] = entry["channels_last"] = False
    own_cache.write_text(json.dumps(cache))
    ganzoo.train(resume=run.directory, steps=4)
    state = torch.load(run.directory / "checkpoints" / "step_000004.pt", weights_only=True)
    assert state["step"] == 4 and len(probes) == 1
    config = json.loads((run.directory / "config.json").read_text())
    assert config["placement"]["bf16_autocast"] is True  # the run's own record, not the edited cache


def test_a_damaged_cache_is_measured_again(tmp_path, own_cache, probes):
    own_cache.write_text("{not json")
    run = ganzoo.train(model="vanilla", steps=2, out=str(tmp_path / "a"), **TINY)
    assert run.config["placement"]["chosen_by"] == "probe"
    assert len(json.loads(own_cache.read_text())) == 1


def test_the_real_probe_leaves_the_random_streams_alone(own_cache):
    calls = []

    def make_iteration(setting):
        return lambda: calls.append(torch.randn(3).sum())

    torch.manual_seed(5)
    expected = torch.rand(4)
    torch.manual_seed(5)
    chosen, how = precision.choose([FP32, BF16], "key", make_iteration)
    assert torch.equal(torch.rand(4), expected)
    assert how["chosen_by"] == "probe" and chosen in (FP32, BF16)
    assert len(calls) == 2 * (precision.WARMUP_ROUNDS + precision.TIMED_ROUNDS)


def test_an_edited_placement_record_is_a_clear_error(tmp_path, own_cache, probes):
    run = ganzoo.train(model="dcgan", steps=2, out=str(tmp_path / "a"), checkpoint_every=2, **TINY)
    config = json.loads((run.directory / "config.json").read_text())
    config["placement"]["bf16_autocast"] = "yes"
    (run.directory / "config.json").write_text(json.dumps(config))
    with pytest.raises(ganzoo.CheckpointError, match="'placement' must be an object whose bf16_autocast and channels_last are true, false or null"):
        ganzoo.train(resume=run.directory, steps=4)
