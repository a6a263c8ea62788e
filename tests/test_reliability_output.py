"""Issue 15, items 4, 5, 7 and 8: paths are printed as they are (never read as rich markup), nothing a user
made is replaced by `sample`, folder datasets check what can be checked before decoding, and a download
stops soon after the size it expects."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from test_downloads import FileServer, md5

import ganzoo
from ganzoo.cli import cli
from ganzoo.datasets import folder
from ganzoo.datasets.base import DatasetOptions
from ganzoo.datasets.download import download, size_limit
from ganzoo.errors import DatasetError
from ganzoo.images import FOLDER_MARKER

TINY_ARGS = [
    "--set",
    "generator_width=8",
    "--set",
    "discriminator_width=8",
    "--batch-size",
    "16",
    "--no-progress",
]
MARKUP_NAMES = ["r[/x]", "x[bold red]y", "[link=file:///etc]z[/link]", "a[/]b"]


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], prog_name="ganzoo")


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> Path:
    run = ganzoo.train(
        steps=4,
        model="dcgan",
        out=str(tmp_path_factory.mktemp("output") / "run"),
        overrides=["generator_width=8", "discriminator_width=8"],
        batch_size=16,
        sample_every=0,
        checkpoint_every=2,
        log_every=2,
        progress=False,
    )
    return run.directory


# -- item 4: paths are not markup ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", MARKUP_NAMES, ids=["closing-tag", "style", "link", "bare-close"])
def test_a_run_directory_named_like_markup_trains_prints_and_resumes(tmp_path, name, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")
    out = tmp_path / name
    result = invoke(
        "train", "--out", out, "--steps", "2", "--checkpoint-every", "1", "--sample-every", "0", *TINY_ARGS
    )
    assert result.exit_code == 0, result.output
    assert f"run directory  {out}" in result.output  # printed as it is, brackets and all
    resumed = invoke("train", "--resume", out, "--steps", "3", "--no-progress")
    assert resumed.exit_code == 0, resumed.output
    assert f"Resuming {out} from step 2" in flat(resumed.output)


@pytest.mark.parametrize("name", ["m[/x].png", "x[bold red]y.png"])
def test_sample_prints_an_output_named_like_markup(trained_run, tmp_path, name, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")
    output = tmp_path / name
    output.parent.mkdir(parents=True, exist_ok=True)
    result = invoke("sample", trained_run, "-o", output)
    assert result.exit_code == 0, result.output
    assert f"to {output}." in result.output and output.is_file()


def test_fid_prints_an_npz_path_named_like_markup(tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")
    digits = ganzoo.load_dataset("mnist-10k:test").images[:40].numpy()
    paths = []
    for name in ("d[/x].npz", "e[bold red]f.npz"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, images=digits)
        paths.append(path)
    result = invoke("fid", *paths, "--kid-subset-size", "20")
    assert result.exit_code == 0, result.output
    assert "[bold red]" in result.output and "[/x]" in result.output


def test_a_folder_warning_names_a_file_named_like_markup(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("COLUMNS", "400")
    pictures = tmp_path / "pictures"
    (pictures / "sub[").mkdir(parents=True)
    for index in range(3):
        Image.new("L", (8, 8), color=60 * index).save(pictures / f"{index}.png")
    (pictures / "sub[" / "z]").mkdir()
    (pictures / "sub[" / "z]" / "bad.png").write_bytes(b"not a png")
    (pictures / "x[bold red]y.png").write_bytes(b"not a png either")
    dataset = ganzoo.load_dataset(f"folder:{pictures}", options=DatasetOptions(progress=False))
    assert len(dataset) == 3
    warning = flat(capsys.readouterr().err)
    assert "sub[/z]/bad.png" in warning and "x[bold red]y.png" in warning


# -- item 5: no silent overwrite -----------------------------------------------------------------------------


def test_npz_output_checks_and_names_the_file_numpy_writes(trained_run, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")
    precious = tmp_path / "precious.npz"
    precious.write_bytes(b"the user's own")
    refused = invoke("sample", trained_run, "--format", "npz", "-o", tmp_path / "precious")
    assert refused.exit_code == 2 and f"{precious} already exists" in flat(refused.output)
    assert precious.read_bytes() == b"the user's own"
    written = invoke("sample", trained_run, "--format", "npz", "-o", tmp_path / "fresh", "--n", "3")
    assert written.exit_code == 0 and f"to {tmp_path / 'fresh.npz'}." in written.output
    assert np.load(tmp_path / "fresh.npz")["images"].shape[0] == 3
    replaced = invoke("sample", trained_run, "--format", "npz", "-o", tmp_path / "precious", "--overwrite")
    assert replaced.exit_code == 0 and np.load(precious)["images"].shape[0] == 16  # asked for exactly it


def test_a_grid_named_without_png_is_still_a_png(trained_run, tmp_path):
    result = invoke("sample", trained_run, "-o", tmp_path / "grid")
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "grid").format == "PNG"


def test_png_dir_overwrite_never_mixes_with_stale_or_user_files(trained_run, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "000000.png").write_bytes(b"my own picture")
    refused = invoke("sample", trained_run, "--format", "png-dir", "-o", mine, "--overwrite")
    assert refused.exit_code == 2 and "ganzoo did not write" in refused.output
    assert (mine / "000000.png").read_bytes() == b"my own picture"

    made = tmp_path / "made"
    assert invoke("sample", trained_run, "--format", "png-dir", "-o", made, "--n", "6").exit_code == 0
    assert (made / FOLDER_MARKER).is_file()
    (made / "notes.txt").write_text("kept")
    again = invoke("sample", trained_run, "--format", "png-dir", "-o", made, "--n", "2", "--overwrite")
    assert again.exit_code == 0, again.output
    assert sorted(p.name for p in made.iterdir() if not p.name.startswith(".")) == [
        "000000.png",
        "000001.png",
        "notes.txt",
    ]
    assert invoke("sample", trained_run, "--format", "png-dir", "-o", made).exit_code == 2  # no --overwrite

    empty = tmp_path / "empty"
    empty.mkdir()
    assert (
        invoke("sample", trained_run, "--format", "png-dir", "-o", empty, "--overwrite", "--n", "1").exit_code
        == 0
    )


# -- item 7: folder datasets ---------------------------------------------------------------------------------


@pytest.fixture
def pictures(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    root = tmp_path / "pictures"
    root.mkdir()
    for index in range(4):
        Image.new("L", (16, 16), color=50 * index).save(root / f"{index}.png")
    return root


def test_dangling_and_looping_symlinks_are_skipped_with_a_message(pictures, capsys):
    os.symlink(pictures / "absent.png", pictures / "dangling.png")
    os.symlink(pictures / "loop.png", pictures / "loop.png")
    dataset = ganzoo.load_dataset(f"folder:{pictures}", options=DatasetOptions(progress=False))
    assert len(dataset) == 4
    warning = flat(capsys.readouterr().err)
    assert "dangling.png (a dangling or looping symlink" in warning and "loop.png (a dangling" in warning
    with pytest.raises(DatasetError, match="dangling.png"):
        ganzoo.load_dataset(f"folder:{pictures}", options=DatasetOptions(progress=False, strict=True))


def test_an_image_over_the_pixel_cap_is_skipped_from_its_header(pictures, monkeypatch, capsys):
    Image.new("1", (300, 200)).save(pictures / "bomb.png")
    monkeypatch.setattr(folder, "MAX_PIXELS", 250 * 200)
    decoded = []
    real_load = Image.Image.load

    def load(self):
        decoded.append(getattr(self, "size", None))
        return real_load(self)

    monkeypatch.setattr(Image.Image, "load", load)
    dataset = ganzoo.load_dataset(f"folder:{pictures}", options=DatasetOptions(progress=False))
    assert len(dataset) == 4
    assert "bomb.png (too large: 300x200 pixels, more than the 50,000" in flat(capsys.readouterr().err)
    assert (300, 200) not in decoded  # its pixels were never decoded


def test_the_models_shape_is_checked_before_any_image_is_decoded(pictures, tmp_path, monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("an image was decoded")

    monkeypatch.setattr(folder, "decode_image", never)
    out = tmp_path / "run"
    result = invoke(
        "train", "--dataset", f"folder:{pictures}", "--image-size", "4096", "--out", out, *TINY_ARGS
    )
    assert result.exit_code == 2 and "cannot build images of shape 1x4096x4096" in result.output, (
        result.output
    )
    assert not out.exists() and not (tmp_path / "cache").exists()  # no cache file either


# -- item 8: downloads stop at the expected size -------------------------------------------------------------


@pytest.fixture
def server():
    file_server = FileServer()
    yield file_server
    file_server.close()


def test_a_download_stops_soon_after_the_expected_size(server, tmp_path):
    expected = b"x" * 200_000
    server.files["/big.bin"] = expected * 40  # 8 MB for a 200 KB file, announced honestly
    destination = tmp_path / "big.bin"
    with pytest.raises(DatasetError, match="announces 8000000 bytes for a file of 200000 bytes; refused"):
        download([server.url + "/big.bin"], destination, md5(expected), progress=False, size=len(expected))
    assert not list(tmp_path.iterdir())


class UnannouncedServer:
    """Sends ``body`` without a Content-Length (HTTP/1.0: the body ends when the connection closes)."""

    def __init__(self, body: bytes) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.end_headers()
                try:
                    for start in range(0, len(body), 1 << 16):
                        self.wfile.write(body[start : start + (1 << 16)])
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped reading: what this test wants

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


def test_a_download_without_a_length_is_stopped_at_the_limit(tmp_path, monkeypatch):
    import contextlib

    import ganzoo.datasets.download as module

    expected = b"y" * 300_000
    unannounced = UnannouncedServer(expected * 30)  # 9 MB for a 300 KB file
    received = []

    @contextlib.contextmanager
    def counting(description, total, enabled, unit="bytes"):
        yield received.append

    monkeypatch.setattr(module, "progress_bar", counting)
    try:
        with pytest.raises(
            DatasetError, match="sent more than 365536 bytes .a file of 300000 bytes.; stopped"
        ):
            download(
                [unannounced.url + "/f.bin"],
                tmp_path / "f.bin",
                md5(expected),
                progress=False,
                size=len(expected),
            )
    finally:
        unannounced.close()
    assert sum(received) <= size_limit(len(expected)) == 365536
    assert not list(tmp_path.iterdir())  # nothing left behind


def test_download_keeps_its_signature_for_callers_without_a_size(server, tmp_path):
    body = b"z" * 1000
    server.files["/small.bin"] = body
    path = download([server.url + "/small.bin"], tmp_path / "small.bin", md5(body), progress=False)
    assert path.read_bytes() == body


def test_a_bench_into_a_folder_named_like_markup_prints_it(tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")
    out = tmp_path / "b[/x]"
    args = ["bench", "--model", "vanilla", "--steps", "2", "--n-eval", "200", "--out", out]
    for item in ("generator_width=8", "discriminator_width=8", "batch_size=16"):
        args += ["--set", item]
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert f"Results: {out / 'report.html'}" in result.output and f"{out / 'results.json'}," in result.output


def test_a_name_with_bytes_that_are_not_utf8_is_printed_as_an_escape(trained_run, tmp_path, monkeypatch):
    """Undecodable bytes in a file name reach Python as lone surrogates, which a UTF-8 stream refuses:
    they are shown as an escape instead of ending the command in a UnicodeEncodeError."""
    from ganzoo.console import plain, printable, text_console

    assert printable("caf\udce9") == "caf\\udce9" and plain("a[/b]\udce9") == "a\\[/b]\\udce9"
    out = tmp_path / "caf\udce9"
    result = invoke("train", "--out", out, "--steps", "1", "--sample-every", "0", *TINY_ARGS)
    assert result.exit_code == 0, result.output
    assert "caf\\udce9" in result.output and out.is_dir()
    text_console.print(f"Results: {out}")  # the bench's console: no UnicodeEncodeError either
