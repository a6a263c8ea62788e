"""The standard InceptionV3 weights are fetched once into the cache and verified against the pinned sha256,
from an HTTP server on 127.0.0.1 serving a file the test makes: a wrong hash, a truncated or an oversized
body fail and leave nothing behind, --no-download never downloads, and local files keep working."""

from __future__ import annotations

import hashlib

import pytest
import torch
from click.testing import CliRunner
from test_downloads import FileServer

from ganzoo.cli import cli
from ganzoo.errors import GanzooError, UsageError
from ganzoo.metrics import inception, inception_weights
from ganzoo.metrics.inception_weights import fetch_inception_weights, resolve_inception_weights

BODY = bytes(range(256)) * 40  # 10,240 bytes standing in for the 96 MB file


@pytest.fixture
def server(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(inception.WEIGHTS_ENV, raising=False)
    files = FileServer()
    files.files["/a/weights.pth"] = BODY
    monkeypatch.setattr(inception_weights, "WEIGHTS_URLS", (files.url + "/a/weights.pth",))
    monkeypatch.setattr(inception_weights, "WEIGHTS_SHA256", hashlib.sha256(BODY).hexdigest())
    monkeypatch.setattr(inception_weights, "WEIGHTS_BYTES", len(BODY))
    yield files
    files.close()


def cache_listing() -> list[str]:
    folder = inception_weights.cached_weights_path().parent
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_the_weights_are_downloaded_once_and_verified(server):
    path = fetch_inception_weights(progress=False)
    assert path.read_bytes() == BODY and path == inception_weights.cached_weights_path()
    assert fetch_inception_weights(progress=False) == path
    assert server.requests == ["/a/weights.pth"]  # the second call used the cache


def test_a_wrong_hash_is_refused_and_leaves_nothing(server, monkeypatch):
    monkeypatch.setattr(inception_weights, "WEIGHTS_SHA256", "0" * 64)
    with pytest.raises(GanzooError, match="checksum mismatch"):
        fetch_inception_weights(progress=False)
    assert cache_listing() == []


def test_a_truncated_body_is_refused_and_leaves_nothing(server):
    server.truncate.add("/a/weights.pth")
    with pytest.raises(GanzooError, match="ended after"):
        fetch_inception_weights(progress=False)
    assert cache_listing() == []


def test_an_oversized_body_is_stopped_and_leaves_nothing(server):
    server.files["/a/weights.pth"] = BODY * 20  # far more than the pinned size and its margin
    with pytest.raises(GanzooError, match="refused"):
        fetch_inception_weights(progress=False)
    assert cache_listing() == []


def test_no_download_never_downloads(server):
    with pytest.raises(UsageError, match="--no-download"):
        fetch_inception_weights(download=False)
    assert server.requests == [] and cache_listing() == []


def test_a_damaged_cached_file_is_fetched_again_unless_downloads_are_off(server):
    path = fetch_inception_weights(progress=False)
    path.write_bytes(b"damaged")
    with pytest.raises(GanzooError, match="damaged"):
        fetch_inception_weights(download=False)
    assert fetch_inception_weights(progress=False).read_bytes() == BODY
    assert len(server.requests) == 2


def test_local_weights_keep_working_without_any_request(server, tmp_path, monkeypatch):
    local = tmp_path / "mine.pth"
    local.write_bytes(b"x")
    assert resolve_inception_weights(local, download=False) == local
    monkeypatch.setenv(inception.WEIGHTS_ENV, str(local))
    assert resolve_inception_weights(None, download=False) == local
    assert server.requests == []


class _FakeInception(torch.nn.Module):
    def __init__(self, weights) -> None:
        super().__init__()
        self.weights = weights
        self.fc = torch.nn.Linear(8, 3)

    def forward(self, images):
        return images.float().mean(dim=(2, 3)).repeat(1, 3)[:, :8]


def test_the_command_fetches_the_weights_or_with_no_download_refuses(server, monkeypatch):
    monkeypatch.setattr(inception, "torch_fidelity_installed", lambda: True)
    monkeypatch.setattr(inception, "inception_network", _FakeInception)
    args = [
        "fid",
        "mnist-10k:train",
        "mnist-10k:test",
        "--n",
        "50",
        "--features",
        "inception",
        "--kid-subsets",
        "0",
        "--no-manifold",
        "--json",
    ]
    refused = CliRunner().invoke(cli, [*args, "--no-download"])
    assert refused.exit_code == 2 and "--no-download" in refused.output and server.requests == []
    fetched = CliRunner().invoke(cli, args)
    assert fetched.exit_code == 0, fetched.output
    assert server.requests == ["/a/weights.pth"] and '"extractor": "inception"' in fetched.output
    assert hashlib.sha256(BODY).hexdigest() in fetched.output  # the weights' sha256 is the provenance
