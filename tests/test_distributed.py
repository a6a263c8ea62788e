"""Distributed training: 2 ranks with gloo on the CPU train like one process with the same global batch,
resume across world sizes, write one run directory, and end with a clear error when a rank dies."""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from torch import nn

import ganzoo
from ganzoo import checkpoint as ckpt
from ganzoo import registry
from ganzoo.engine import TrainConfig, Trainer, distributed

TESTS = Path(__file__).resolve().parent
LAUNCH_TIMEOUT = 60.0  # seconds any launch of ranks may take before the test fails
TINY = ["generator_width=8", "discriminator_width=8"]


# -- a model for exact comparisons: no batch norm, no dropout, a deterministic penalty (R1) ----------------
class MLPGenerator(ganzoo.Generator):
    def __init__(self, image_shape, hp):
        super().__init__(hp.latent_dim, image_shape)
        self.net = nn.Sequential(
            nn.Linear(hp.latent_dim, 32), nn.LeakyReLU(0.2), nn.Linear(32, math.prod(image_shape)), nn.Tanh()
        )

    def forward(self, z):
        return self.net(z).view(z.shape[0], *self.image_shape)


class MLPDiscriminator(ganzoo.Discriminator):
    def __init__(self, image_shape, hp):
        super().__init__(image_shape)
        self.net = nn.Sequential(
            nn.Flatten(), nn.Linear(math.prod(image_shape), 32), nn.LeakyReLU(0.2), nn.Linear(32, 1)
        )

    def forward(self, images):
        return self.net(images).squeeze(1)


class FragileDiscriminator(MLPDiscriminator):
    """On rank 1, in step 3 (1 call to check the model, then 7 a step), dies or hangs as GANZOO_TEST_FAILURE says."""

    calls = 0

    def forward(self, images):
        FragileDiscriminator.calls += 1
        if os.environ.get("RANK") == "1" and FragileDiscriminator.calls > 1 + 2 * 7:
            if os.environ.get("GANZOO_TEST_FAILURE") == "hang":
                time.sleep(3 * LAUNCH_TIMEOUT)
            os._exit(3)
        return super().forward(images)


DEFAULTS = ganzoo.Hyperparameters(
    latent_dim=8,
    batch_size=8,
    critic_steps=2,
    generator_lr=1e-3,
    discriminator_lr=1e-3,
    penalty="r1",
    penalty_weight=1.0,
)
SPECS = [
    ganzoo.ModelSpec(
        name=name,
        summary="test model",
        paper="none",
        defaults=DEFAULTS,
        build_generator=MLPGenerator,
        build_discriminator=discriminator,
    )
    for name, discriminator in (("ddp-mlp", MLPDiscriminator), ("ddp-fragile", FragileDiscriminator))
]


class DistributedTestModels:
    @ganzoo.hookimpl
    def register_models(self, register):
        for spec in SPECS:
            register(spec)


def use_test_models() -> None:
    registry._zoo = registry.Zoo([DistributedTestModels()]).load()


@pytest.fixture
def test_models(monkeypatch):
    monkeypatch.setattr(registry, "_zoo", registry.Zoo([DistributedTestModels()]).load())


# -- launching ranks ----------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def launch(
    task: dict, workdir: Path, world_size: int = 2, env: dict | None = None, awaited: int | None = None
) -> list[tuple[int, str]]:
    """Start ``world_size`` ranks of :func:`rank_main` with torchrun's environment; (exit code, output) each.

    The first ``awaited`` ranks (default: all) must end within LAUNCH_TIMEOUT; the others are then killed.
    """
    port, processes = free_port(), []
    base = {k: v for k, v in os.environ.items() if k not in distributed.REQUIRED_ENV}
    base.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        WORLD_SIZE=str(world_size),
        OMP_NUM_THREADS="1",
        PYTHONPATH=os.pathsep.join([str(TESTS), *filter(None, [os.environ.get("PYTHONPATH")])]),
        **(env or {}),
    )
    boot = "import sys, test_distributed; test_distributed.rank_main(sys.argv[1])"
    for rank in range(world_size):
        log = open(workdir / f"rank{rank}.stderr", "w+")
        environment = {**base, "RANK": str(rank), "LOCAL_RANK": str(rank)}
        command = [sys.executable, "-c", boot, json.dumps(task)]
        processes.append(
            (subprocess.Popen(command, env=environment, stdout=log, stderr=log, cwd=workdir), log)
        )
    deadline, results = time.monotonic() + LAUNCH_TIMEOUT, []
    try:
        for process, _ in processes[:awaited]:
            process.wait(timeout=max(deadline - time.monotonic(), 1))
    finally:
        for process, log in processes:
            if process.poll() is None:
                process.kill()
            log.seek(0)
            results.append((process.wait(), log.read()))
            log.close()
    return results


def rank_main(task_json: str) -> None:
    """One rank: run CLI arguments, or train through the API and save this rank's G and D for comparison."""
    task = json.loads(task_json)
    torch.set_num_threads(1)
    use_test_models()
    if "argv" in task:
        from ganzoo.cli import cli

        cli.main(args=task["argv"], prog_name="ganzoo")
    for job in task.get("jobs", []):
        trainer = Trainer(TrainConfig(**job["config"]), resume=job.get("resume"))
        trainer.run()
        networks = {"generator": trainer.G.state_dict(), "discriminator": trainer.D.state_dict()}
        torch.save(networks, f"{job['dump']}.rank{trainer.rank}.pt")
    distributed.teardown()


def config(out: Path, model: str = "ddp-mlp", **changes) -> dict:
    settings = dict(
        model=model, out=str(out), progress=False, sample_every=0, checkpoint_every=4, log_every=4,
        amp=False,  # fp32: the comparison with one process is to float tolerance
    )
    return {**settings, **changes}


def assert_close_states(a: dict, b: dict) -> None:
    for key in a:
        assert torch.allclose(a[key], b[key], rtol=1e-4, atol=1e-6), (key, (a[key] - b[key]).abs().max())


def assert_same_networks(run_a: Path, run_b: Path, step: int = 8) -> None:
    a = torch.load(ckpt.checkpoint_path(run_a, step), weights_only=True)
    b = torch.load(ckpt.checkpoint_path(run_b, step), weights_only=True)
    for network in ("generator", "discriminator", "ema_generator"):
        assert_close_states(a[network], b[network])


# -- one launch of two ranks, checked by several tests ----------------------------------------------------
@pytest.fixture(scope="module")
def two_rank_runs(tmp_path_factory):
    """Single-process references, then two gloo ranks: a fresh run, a resumed single-process run and WGAN-GP."""
    root = tmp_path_factory.mktemp("ddp")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(registry, "_zoo", registry.Zoo([DistributedTestModels()]).load())
        ganzoo.train(steps=8, **config(root / "single"))
        ganzoo.train(steps=4, **config(root / "single-then-two"))
        jobs = [
            {"config": config(root / "two", steps=8), "dump": str(root / "two")},
            {
                "config": config(root / "single-then-two", steps=8),
                "resume": str(root / "single-then-two"),
                "dump": str(root / "resumed"),
            },
            {
                "config": config(root / "wgan", model="wgan-gp", steps=3, batch_size=8, overrides=TINY),
                "dump": str(root / "wgan"),
            },
        ]
        results = launch({"jobs": jobs}, root)
        assert [code for code, _ in results] == [0, 0], results
        # The other direction: the 2-rank run's step-4 checkpoint, continued by one process.
        shutil.copytree(root / "two", root / "two-then-single")
        ckpt.checkpoint_path(root / "two-then-single", 8).unlink()
        ganzoo.train(steps=8, resume=root / "two-then-single")
    return root


@pytest.mark.distributed
def test_two_ranks_train_like_one_process_with_the_same_global_batch(two_rank_runs):
    assert_same_networks(two_rank_runs / "two", two_rank_runs / "single")
    saved = json.loads((two_rank_runs / "two" / "config.json").read_text())["distributed"]
    assert saved == {
        "world_size": 2,
        "backend": "gloo",
        "batch_size_per_rank": 4,
        "batch_norm": {"generator": "none", "discriminator": "none"},
    }


@pytest.mark.distributed
def test_a_checkpoint_resumes_across_world_sizes(two_rank_runs):
    assert_same_networks(two_rank_runs / "single-then-two", two_rank_runs / "single")
    assert_same_networks(two_rank_runs / "two-then-single", two_rank_runs / "single")


@pytest.mark.distributed
@pytest.mark.parametrize("run", ["two", "resumed", "wgan"])
def test_ranks_end_with_identical_networks(two_rank_runs, run):
    """Gradients (the penalty's double backward included) are all-reduced, so the ranks never drift apart;
    WGAN-GP's generator has per-rank batch norm on the CPU, whose running statistics are the only buffers
    allowed to differ."""
    rank0, rank1 = (torch.load(two_rank_runs / f"{run}.rank{r}.pt", weights_only=True) for r in (0, 1))
    for network in ("generator", "discriminator"):
        for key, value in rank0[network].items():
            if "running_" not in key and "num_batches" not in key:
                assert torch.equal(value, rank1[network][key]), (network, key)


@pytest.mark.distributed
def test_rank_zero_alone_writes_the_run_directory(two_rank_runs):
    run = two_rank_runs / "two"
    assert [line["step"] for line in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())] == [
        4,
        8,
    ]
    written = sorted(p.name for p in run.rglob("*") if p.is_file())
    assert written == sorted(
        [
            ".lock",  # rank 0's run-directory lock (ganzoo.engine.rundir); no rank but 0 wrote anything
            "config.json",
            "generator.pt",
            "metrics.jsonl",
            "step_000004.pt",
            "step_000008.pt",
            "step_000008.png",
        ]
    )
    wgan = json.loads((two_rank_runs / "wgan" / "config.json").read_text())["distributed"]
    assert wgan["batch_norm"] == {
        "generator": "per-rank",
        "discriminator": "none",
    }  # no SyncBatchNorm on the CPU


# -- the command line under torchrun ----------------------------------------------------------------------
@pytest.mark.distributed
def test_torchrun_trains_one_run_directory_that_ganzoo_sample_reads(tmp_path):
    out = tmp_path / "runs" / "ddp"
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
        "-m",
        "ganzoo",
        "train",
        "--model",
        "wgan",
        "--steps",
        "20",
        "--device",
        "cpu",
        "--out",
        str(out),
        "--set",
        "generator_width=8",
        "--set",
        "discriminator_width=8",
        "--batch-size",
        "16",
        "--no-progress",
        "--checkpoint-every",
        "10",
    ]
    environment = {k: v for k, v in os.environ.items() if k not in distributed.REQUIRED_ENV}
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=LAUNCH_TIMEOUT * 2, cwd=tmp_path, env=environment
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("Done:") == 1 and "2 ranks (gloo)" in result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"] and sorted(
        p.name for p in out.parent.iterdir()
    ) == ["ddp"]
    assert [step for step, _ in ckpt.list_checkpoints(out)] == [10, 20]
    assert json.loads((out / "config.json").read_text())["distributed"]["world_size"] == 2
    sampled = subprocess.run(
        [sys.executable, "-m", "ganzoo", "sample", str(out), "-o", str(tmp_path / "grid.png")],
        capture_output=True,
        text=True,
        timeout=LAUNCH_TIMEOUT,
    )
    assert sampled.returncode == 0, sampled.stderr
    assert (tmp_path / "grid.png").is_file()


@pytest.mark.distributed
@pytest.mark.parametrize("failure", ["die", "hang"])
def test_a_rank_that_dies_or_hangs_ends_the_job_with_a_clear_error(tmp_path, failure):
    argv = [
        "train",
        "--model",
        "ddp-fragile",
        "--steps",
        "1000",
        "--out",
        str(tmp_path / "run"),
        "--no-progress",
        "--device",
        "cpu",
        "--checkpoint-every",
        "1",
        "--log-every",
        "1",
    ]
    env = {"GANZOO_TEST_FAILURE": failure, distributed.TIMEOUT_ENV: "5"}
    (rank0_code, rank0_err), (rank1_code, _) = launch({"argv": argv}, tmp_path, env=env, awaited=1)
    assert rank0_code == 1, rank0_err
    assert (
        "Error: rank 0 of 2 lost contact with the other ranks" in rank0_err and "Traceback" not in rank0_err
    )
    assert f"--resume {tmp_path / 'run'}" in rank0_err
    assert rank1_code == (3 if failure == "die" else -9)  # the hanging rank is killed by the test
    assert ckpt.list_checkpoints(tmp_path / "run")  # the steps before the failure are kept


@pytest.mark.distributed
def test_an_error_of_rank_zero_reaches_every_rank_and_is_printed_once(tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    argv = [
        "train",
        "--model",
        "ddp-mlp",
        "--steps",
        "2",
        "--out",
        str(tmp_path / "taken"),
        "--device",
        "cpu",
    ]
    (rank0_code, rank0_output), (rank1_code, rank1_output) = launch({"argv": argv}, tmp_path)
    assert (rank0_code, rank1_code) == (2, 2)
    assert "Error: run directory" in rank0_output and "already exists" in rank0_output
    assert "Error" not in rank1_output and "Traceback" not in rank0_output + rank1_output
    assert [p.name for p in (tmp_path / "taken").iterdir()] == ["notes.txt"]


# -- helpers, without starting processes ------------------------------------------------------------------
def test_each_rank_takes_an_equal_contiguous_share_of_the_global_batch():
    shards = [distributed.batch_shard(12, rank, 3) for rank in range(3)]
    assert [list(range(12))[s] for s in shards] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    with pytest.raises(ganzoo.UsageError, match="multiple of 5"):
        distributed.batch_shard(12, 0, 5)


def test_outside_torchrun_nothing_is_distributed(monkeypatch, tmp_path, test_models):
    for name in distributed.REQUIRED_ENV:
        monkeypatch.delenv(name, raising=False)
    assert distributed.setup("cpu") == (0, 1, None)
    trainer = Trainer(TrainConfig(**config(tmp_path / "run"), steps=1))
    assert (trainer.rank, trainer.world_size, trainer.placement.shard) == (0, 1, None)
    assert trainer.networks.G_step is trainer.G and trainer.networks.D_step is trainer.D
    assert "distributed" not in json.loads((tmp_path / "run" / "config.json").read_text())


def test_a_torchrun_environment_that_is_incomplete_or_asks_for_another_device_is_refused(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    with pytest.raises(ganzoo.UsageError, match="MASTER_ADDR.*torchrun"):
        distributed.setup("cpu")
    for device in ("cuda:1", "mps"):
        with pytest.raises(ganzoo.UsageError, match="LOCAL_RANK"):
            distributed.rank_device(device, local_rank=0)
    monkeypatch.setenv(distributed.TIMEOUT_ENV, "soon")
    with pytest.raises(ganzoo.UsageError, match=distributed.TIMEOUT_ENV):
        distributed.timeout()


def test_the_rank_stream_is_reproducible_per_rank_and_leaves_the_shared_stream_alone():
    def draw(rank: int, step: int) -> torch.Tensor:
        with distributed.rank_random_stream(torch.device("cpu"), 0, rank, step, phase=0):
            return torch.rand(4)

    torch.manual_seed(0)
    expected_shared = torch.rand(4)
    torch.manual_seed(0)
    first = draw(0, 5)
    assert torch.equal(torch.rand(4), expected_shared)
    assert torch.equal(draw(0, 5), first)
    assert not torch.equal(draw(1, 5), first) and not torch.equal(draw(0, 6), first)
