"""The benchmark scripts that RESULTS.md quotes still run: time_to_quality writes its table and refuses to
overwrite it, and benchmarks/gpu.py exits cleanly where there is no CUDA."""

from __future__ import annotations

import json

import pytest
import torch

from benchmarks import gpu, time_to_quality


def test_time_to_quality_writes_its_table_and_keeps_an_existing_one(tmp_path, capsys):
    out = tmp_path / "ttq"
    argv = ["--models", "dcgan,wgan_gp.py", "--limit", "0.5", "--eval-every", "0.25", "--n-eval", "64"]
    assert time_to_quality.main([*argv, "--threshold", "1e9", "--out", str(out)]) == 0
    report = json.loads(out.with_suffix(".json").read_text())
    assert [run["name"] for run in report["runs"]] == ["dcgan", "wgan_gp.py"]
    for run in report["runs"]:  # any FID is below 1e9, so both stop at their first evaluation
        assert run["reached_seconds"] is not None and len(run["evaluations"]) == 1
        assert run["iterations"] >= 1 and run["reached_fid"] < 1e9
    table = out.with_suffix(".md").read_text()
    assert "| dcgan |" in table and "(vs dcgan.py)" not in table  # dcgan.py did not run: no ratio
    assert "| wgan_gp.py |" in table and report["machine"]["torch"] == torch.__version__

    before = out.with_suffix(".md").read_text()
    with pytest.raises(SystemExit) as exit_info:
        time_to_quality.main([*argv, "--out", str(out)])
    assert exit_info.value.code == 2 and "--overwrite" in capsys.readouterr().err
    assert out.with_suffix(".md").read_text() == before


def test_time_to_quality_rejects_an_unknown_model(capsys):
    with pytest.raises(SystemExit) as exit_info:
        time_to_quality.main(["--models", "stylegan"])
    assert exit_info.value.code == 2 and "choose among vanilla, dcgan, wgan-gp" in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="with CUDA the script runs its full measurement")
def test_the_gpu_script_says_there_is_no_cuda_and_exits_0(capsys):
    assert gpu.main([]) == 0
    assert "No CUDA device" in capsys.readouterr().out


def test_level_speedups_compare_the_curves_at_every_level_the_peer_reached():
    def run(curve):
        return {"best_fid": min(f for _, f in curve), "evaluations": [{"seconds": t, "fid": f} for t, f in curve]}

    peer = run([(10, 30.0), (20, 20.0), (40, 10.0)])
    model = run([(5, 25.0), (10, 15.0), (30, 12.0)])
    rows = time_to_quality.level_speedups(model, peer, threshold=30.0, levels=3)
    assert [round(level, 2) for level, *_ in rows] == [30.0, 17.32, 10.0]
    assert rows[0][1:] == (10, 5, 2.0) and rows[1][1:] == (40, 10, 4.0)
    assert rows[2][2] is None and rows[2][3] == 0.0  # the model never reached the peer's best: missed
