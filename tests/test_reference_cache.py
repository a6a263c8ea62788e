"""Reference features computed once: the cache reuses them for the same images and extractor, a damaged entry
is recomputed, statistics saved with --save-stats score exactly as the images, and a damaged or mismatched
statistics file is a one-line error."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import ganzoo
from ganzoo.cli import cli
from ganzoo.errors import UsageError
from ganzoo.metrics import reference_cache
from ganzoo.metrics.fid import FidEvaluator
from ganzoo.metrics.reference_cache import ReferenceFeatures, load_reference, save_reference

FAST = {"kid_subsets": 0, "manifold": False, "classifier": False}


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(reference_cache.CACHE_ENV, str(tmp_path / "reference-cache"))
    return tmp_path / "reference-cache"


@pytest.fixture(scope="module")
def images():
    test = ganzoo.load_dataset("mnist-10k:test").images
    return test[:400], test[400:800]


def run(*args: str):
    return CliRunner().invoke(cli, ["fid", *args], prog_name="ganzoo")


def test_the_same_images_and_extractor_reuse_the_cached_features(cache, images):
    real, _ = images
    first = FidEvaluator(real, cache=True, **FAST)
    second = FidEvaluator(real, cache=True, **FAST)
    assert not first.reference_cached and second.reference_cached
    assert torch.equal(first.real_features, second.real_features)
    assert len(list(cache.glob("*.npz"))) == 1
    other = FidEvaluator(real[:399], cache=True, **FAST)  # other images: another key
    assert not other.reference_cached and len(list(cache.glob("*.npz"))) == 2
    assert not list(cache.glob("*.tmp")) and not list(cache.glob(".*"))


def test_a_damaged_cache_entry_is_recomputed_with_a_warning(cache, images, capsys):
    real, fake = images
    expected = FidEvaluator(real, cache=True, **FAST).evaluate(fake).fid
    (entry,) = cache.glob("*.npz")
    with np.load(entry) as archive:
        arrays = {name: archive[name] for name in archive.files}
    arrays["features"] = arrays["features"] + np.float32(1.0)  # the recorded sha256 no longer matches
    np.savez(entry, **arrays)
    again = FidEvaluator(real, cache=True, **FAST)
    assert not again.reference_cached and again.evaluate(fake).fid == pytest.approx(expected, rel=1e-12)
    assert "damaged cached reference" in capsys.readouterr().err
    assert FidEvaluator(real, cache=True, **FAST).reference_cached  # rewritten


def test_saved_statistics_score_exactly_as_the_images(tmp_path, cache):
    stats = tmp_path / "test-stats.npz"
    saved = run("mnist-10k:test", "--n", "500", "--save-stats", str(stats))
    assert saved.exit_code == 0, saved.output
    from_images = run("mnist-10k:test", "mnist-10k:train", "--n", "500", "--json", "--kid-subset-size", "100")
    from_stats = run(str(stats), "mnist-10k:train", "--n", "500", "--json", "--kid-subset-size", "100")
    a, b = json.loads(from_images.stdout), json.loads(from_stats.stdout)
    for name in ("fid", "kid_mean", "precision", "recall", "density", "coverage"):
        assert a[name] == b[name], name
    assert a["classifier_score_real"] == b["classifier_score_real"]
    assert "statistics file" in b["a"]["description"] and b["a"]["n"] == 500
    with np.load(stats) as archive:  # pytorch-fid's --save-stats arrays are there too
        assert archive["mu"].shape == (128,) and archive["sigma"].shape == (128, 128)


def test_statistics_are_never_overwritten_and_their_count_is_fixed(tmp_path, cache):
    stats = tmp_path / "stats.npz"
    assert run("mnist-10k:test", "--n", "300", "--save-stats", str(stats)).exit_code == 0
    again = run("mnist-10k:test", "--n", "300", "--save-stats", str(stats))
    assert again.exit_code == 2 and "exists" in again.output
    wrong_n = run(str(stats), "mnist-10k:train", "--n", "200")
    assert wrong_n.exit_code == 2 and "300 images" in wrong_n.output
    assert run("mnist-10k:test").exit_code == 2  # neither B nor --save-stats


def test_an_edited_statistics_file_is_refused(tmp_path, cache):
    stats = tmp_path / "stats.npz"
    assert run("mnist-10k:test", "--n", "300", "--save-stats", str(stats)).exit_code == 0
    with np.load(stats) as archive:
        arrays = {name: archive[name] for name in archive.files}
    arrays["features"][0, 0] += 1
    np.savez(stats, **arrays)
    result = run(str(stats), "mnist-10k:train", "--n", "300")
    assert result.exit_code == 2 and "sha256" in result.output and "Traceback" not in result.output


def test_statistics_of_another_extractor_are_refused(tmp_path, images):
    real, fake = images
    stats = tmp_path / "other.npz"
    save_reference(stats, ReferenceFeatures(torch.zeros(10, 128), "other", "sha256:00", None, "made up"))
    with pytest.raises(UsageError, match="computed with other"):
        FidEvaluator(load_reference(stats), **FAST)


def test_a_failed_write_leaves_nothing_behind(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(reference_cache.np, "savez", broken)
    with pytest.raises(OSError):
        save_reference(tmp_path / "s.npz", ReferenceFeatures(torch.zeros(3, 2), "x", None, None, "d"))
    assert list(tmp_path.iterdir()) == []


def test_the_bench_reuses_the_reference_features_of_an_earlier_bench(tmp_path, cache):
    from ganzoo.bench import BenchConfig, run_benchmark

    tiny = ["generator_width=8", "discriminator_width=8", "batch_size=16"]
    runs = [
        run_benchmark(BenchConfig(models=["vanilla"], steps=1, n_eval=150, out=tmp_path / name, overrides=tiny))
        for name in ("first", "second")
    ]
    assert [r["reference_features_from_cache"] for r in runs] == [False, True]
    assert runs[0]["floor"] == runs[1]["floor"]
