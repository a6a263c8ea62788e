"""Verified downloads and safe extraction, against an HTTP server on 127.0.0.1 serving files the tests make:
a good file is verified and cached; a wrong checksum, a truncated body and a 404 each fail clearly and leave
nothing behind; a tar member that would land outside the target is refused."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from test_datasets_helpers import idx_bytes, random_digits

from ganzoo.datasets.base import DatasetOptions
from ganzoo.datasets.cifar10 import RECORD_BYTES, Cifar10Source
from ganzoo.datasets.download import download, safe_extract_tar
from ganzoo.datasets.idx import IdxSource, idx_pair
from ganzoo.datasets.locate import RemoteFile
from ganzoo.errors import DatasetError

OPTIONS = DatasetOptions(progress=False)


class FileServer:
    """Serves ``files`` (path -> bytes); a path in ``truncate`` announces more bytes than it sends."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.truncate: set[str] = set()
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404, "Not Found")
                    return
                self.send_response(200)
                announced = len(body) + (1000 if self.path in server.truncate else 0)
                self.send_header("Content-Length", str(announced))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:  # keep the test output clean
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        if self.thread.is_alive():
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join()


@pytest.fixture
def server():
    file_server = FileServer()
    yield file_server
    file_server.close()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("GANZOO_DATA_DIR", raising=False)
    return tmp_path / "cache" / "ganzoo"


def md5(data: bytes) -> str:
    return "md5:" + hashlib.md5(data).hexdigest()


def files_in(directory) -> list[str]:
    return (
        sorted(str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file())
        if directory.exists()
        else []
    )


# -- the download function ----------------------------------------------------------------------------------
def test_a_good_file_is_verified_and_renamed_into_place(server, tmp_path):
    server.files["/data.bin"] = b"payload" * 1000
    destination = tmp_path / "out" / "data.bin"
    checksum = "sha256:" + hashlib.sha256(b"payload" * 1000).hexdigest()
    assert download([server.url + "/data.bin"], destination, checksum, progress=False) == destination
    assert destination.read_bytes() == b"payload" * 1000
    assert files_in(tmp_path / "out") == ["data.bin"]


@pytest.mark.parametrize(
    "path, checksum, message",
    [
        ("/data.bin", md5(b"something else"), "checksum mismatch"),
        ("/short.bin", md5(b"payload"), "ended after 7 of 1007 bytes"),
        ("/missing.bin", md5(b"payload"), "HTTP 404"),
    ],
)
def test_a_failed_download_leaves_nothing(server, tmp_path, path, checksum, message):
    server.files.update({"/data.bin": b"payload", "/short.bin": b"payload"})
    server.truncate.add("/short.bin")
    with pytest.raises(DatasetError, match=message):
        download([server.url + path], tmp_path / "out" / "file.bin", checksum, progress=False)
    assert files_in(tmp_path / "out") == []


def test_an_unreachable_mirror_falls_through_to_the_next(server, tmp_path):
    server.files["/good/data.bin"] = b"payload"
    urls = [server.url + "/gone/data.bin", server.url + "/good/data.bin"]
    download(urls, tmp_path / "data.bin", md5(b"payload"), progress=False)
    assert (tmp_path / "data.bin").read_bytes() == b"payload"
    assert server.requests == ["/gone/data.bin", "/good/data.bin"]


def test_a_refused_connection_is_a_dataset_error(server, tmp_path):
    url = server.url + "/data.bin"
    server.close()
    with pytest.raises(DatasetError, match="cannot connect"):
        download([url], tmp_path / "data.bin", md5(b""), progress=False, timeout=5)
    assert files_in(tmp_path) == []


# -- IDX sources through the server -------------------------------------------------------------------------
def tiny_mnist(server, name="tiny-mnist", corrupt_checksum=False) -> IdxSource:
    """A two-split IDX dataset served by ``server``, described like the real ones."""
    files = {}
    for split, prefix, count, seed in (("train", "train", 5, 1), ("test", "t10k", 2, 2)):
        images, labels = random_digits(count, seed)
        blobs = {}
        for kind, ndim, array in (("images", 3, images), ("labels", 1, labels)):
            blobs[kind] = gzip.compress(idx_bytes(array))
            server.files[f"/mnist/{prefix}-{kind}-idx{ndim}-ubyte.gz"] = blobs[kind]
        images_checksum = md5(b"not it") if corrupt_checksum else md5(blobs["images"])
        files[split] = idx_pair(prefix, images_checksum, md5(blobs["labels"]))
    return IdxSource(name, "test data", "test license", files, [server.url + "/mnist/"])


def test_an_idx_dataset_is_downloaded_once_into_the_cache(server, cache):
    source = tiny_mnist(server)
    train = source.load("train", OPTIONS)
    assert train.images.shape == (5, 1, 28, 28)
    assert files_in(cache / "tiny-mnist") == ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]
    requests = len(server.requests)
    again = source.load("train", OPTIONS)
    assert len(server.requests) == requests  # served from the cache
    assert again.fingerprint == train.fingerprint
    assert source.availability(OPTIONS).status == "download"  # the test split is still missing


def test_a_checksum_mismatch_on_a_dataset_leaves_the_cache_empty(server, cache):
    source = tiny_mnist(server, corrupt_checksum=True)
    with pytest.raises(DatasetError, match="checksum mismatch") as failure:
        source.load("test", OPTIONS)
    assert "--data-dir" in str(failure.value)
    assert "t10k-images-idx3-ubyte.gz" not in files_in(cache / "tiny-mnist")
    assert all(not name.endswith(".partial") for name in files_in(cache / "tiny-mnist"))


def test_a_missing_dataset_file_on_the_server_says_how_to_provide_it(server, cache, tmp_path):
    source = tiny_mnist(server)
    del server.files["/mnist/t10k-labels-idx1-ubyte.gz"]
    with pytest.raises(DatasetError, match="HTTP 404") as failure:
        source.load("test", DatasetOptions(data_dir=tmp_path / "mine", progress=False))
    assert str(tmp_path / "mine") in str(failure.value) and "GANZOO_DATA_DIR" in str(failure.value)
    assert "t10k-labels-idx1-ubyte.gz" not in files_in(cache / "tiny-mnist")


def test_offline_nothing_is_requested(server, cache):
    source = tiny_mnist(server)
    with pytest.raises(DatasetError, match="downloads are off"):
        source.load("test", DatasetOptions(download=False))
    assert server.requests == []


# -- CIFAR-10 through the server ----------------------------------------------------------------------------
def tar_gz(members: dict[str, bytes], extra: list[tarfile.TarInfo] = ()) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info in extra:
            tar.addfile(info)
    return buffer.getvalue()


def cifar_archive() -> bytes:
    rng = np.random.default_rng(0)
    members = {}
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        records = rng.integers(0, 256, (3, RECORD_BYTES), dtype=np.uint8)
        records[:, 0] %= 10
        members[f"cifar-10-batches-bin/{name}"] = records.tobytes()
    members["cifar-10-batches-bin/batches.meta.txt"] = b"airplane\n"
    return tar_gz(members)


def test_cifar10_is_downloaded_verified_and_extracted(server, cache):
    archive = cifar_archive()
    server.files["/kriz/cifar-10-binary.tar.gz"] = archive
    source = Cifar10Source([server.url + "/kriz/"], RemoteFile("cifar-10-binary.tar.gz", md5(archive)))
    train = source.load("train", OPTIONS)
    assert train.images.shape == (15, 3, 32, 32) and len(train.labels) == 15
    assert source.load("test", OPTIONS).images.shape == (3, 3, 32, 32)
    assert server.requests == ["/kriz/cifar-10-binary.tar.gz"]  # the archive was fetched once
    listing = files_in(cache / "cifar10")
    assert "cifar-10-binary.tar.gz" not in listing and "cifar-10-batches-bin/test_batch.bin" in listing
    assert source.availability(OPTIONS).status == "local"


def test_cifar10_with_a_wrong_checksum_leaves_nothing(server, cache):
    server.files["/kriz/cifar-10-binary.tar.gz"] = cifar_archive()
    source = Cifar10Source([server.url + "/kriz/"], RemoteFile("cifar-10-binary.tar.gz", md5(b"other")))
    with pytest.raises(DatasetError, match="checksum mismatch"):
        source.load("test", OPTIONS)
    assert files_in(cache / "cifar10") == []


def test_a_local_archive_that_is_not_the_published_one_is_reported_and_kept(tmp_path, cache):
    (tmp_path / "cifar-10-binary.tar.gz").write_bytes(cifar_archive())
    source = Cifar10Source([], RemoteFile("cifar-10-binary.tar.gz", md5(b"the real one")))
    with pytest.raises(DatasetError, match="not the published CIFAR-10"):
        source.load("test", DatasetOptions(data_dir=tmp_path, progress=False))
    assert (tmp_path / "cifar-10-binary.tar.gz").exists()  # the user's file is theirs


# -- safe extraction ----------------------------------------------------------------------------------------
def link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


def device(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.CHRTYPE
    return info


@pytest.mark.parametrize(
    "members, extra, refusal",
    [
        ({"../escape.txt": b"x"}, [], "'..'"),
        ({"data/../../escape.txt": b"x"}, [], "'..'"),
        ({"/tmp/absolute.txt": b"x"}, [], "absolute path"),
        ({}, [link("data/passwd", "/etc/passwd")], "is a link"),
        ({}, [link("data/hard", "/etc/passwd", tarfile.LNKTYPE)], "is a link"),
        ({}, [device("data/null")], "device"),
    ],
)
def test_tar_extraction_refuses_dangerous_members(tmp_path, members, extra, refusal):
    archive = tmp_path / "evil.tar.gz"
    archive.write_bytes(tar_gz({"data/ok.txt": b"fine", **members}, extra))
    target = tmp_path / "target" / "inner"
    with pytest.raises(DatasetError, match=refusal):
        safe_extract_tar(archive, target)
    assert files_in(tmp_path / "target") == []
    assert not (tmp_path / "target" / "escape.txt").exists() and not (tmp_path / "escape.txt").exists()


def test_tar_extraction_keeps_what_exists(tmp_path):
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(tar_gz({"data/new.txt": b"new"}))
    (tmp_path / "target" / "data").mkdir(parents=True)
    (tmp_path / "target" / "data" / "mine.txt").write_text("the user's")
    with pytest.raises(DatasetError, match="already exists"):
        safe_extract_tar(archive, tmp_path / "target")
    assert files_in(tmp_path / "target") == ["data/mine.txt"]


def test_a_damaged_archive_is_a_dataset_error(tmp_path):
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(tar_gz({"data/x.bin": bytes(100_000)})[:-200])
    with pytest.raises(DatasetError, match="not a readable tar archive"):
        safe_extract_tar(archive, tmp_path / "target")
    assert files_in(tmp_path / "target") == []
