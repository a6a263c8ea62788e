"""The dataset interface, the embedded mnist-10k, the IDX family and CIFAR-10 read from local files, and the
`ganzoo datasets` command. Downloads are in test_downloads.py, image folders in test_folder_dataset.py."""

from __future__ import annotations

import gzip
import json

import click
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from test_datasets_helpers import idx_bytes, random_digits, write_idx_split

import ganzoo
from ganzoo.cli import GanzooGroup, cli
from ganzoo.commands.datasets import dataset_options, options_from_cli
from ganzoo.datasets.base import DatasetOptions, load_dataset
from ganzoo.datasets.cifar10 import RECORD_BYTES, Cifar10Source
from ganzoo.datasets.idx import parse_idx, read_idx
from ganzoo.errors import DatasetError, UnknownNameError, UsageError

# Documented in ../shared/data/mnist/README.md.
MNIST_TEST_CLASS_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
MNIST_TRAIN10K_CLASS_COUNTS = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path, monkeypatch):
    """No test sees the real cache or a GANZOO_DATA_DIR of the machine."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("GANZOO_DATA_DIR", raising=False)


# -- the interface and mnist-10k ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "split, count, class_counts",
    [("train", 10000, MNIST_TRAIN10K_CLASS_COUNTS), ("test", 10000, MNIST_TEST_CLASS_COUNTS)],
)
def test_mnist_10k_is_real_mnist(split, count, class_counts):
    data = ganzoo.load_dataset(f"mnist-10k:{split}")
    assert (data.name, data.split, len(data)) == ("mnist-10k", split, count)
    assert data.images.dtype == torch.uint8 and data.image_shape == (1, 28, 28)
    assert torch.bincount(data.labels, minlength=10).tolist() == class_counts
    assert "CC BY-SA 3.0" in data.license
    assert data.fingerprint.startswith("sha256:")


def test_the_split_comes_from_the_name_or_the_argument():
    assert load_dataset("mnist-10k", split="test").split == "test"
    assert load_dataset("mnist-10k").split == "train"
    with pytest.raises(UsageError, match="no split 'validation'"):
        load_dataset("mnist-10k:validation")


def test_fingerprints_tell_splits_apart_and_are_stable():
    train, test = load_dataset("mnist-10k:train"), load_dataset("mnist-10k:test")
    assert train.fingerprint != test.fingerprint
    assert test.fingerprint == load_dataset("mnist-10k:test").fingerprint


def test_unknown_dataset_names_the_closest(tmp_path, monkeypatch):
    with pytest.raises(UnknownNameError, match="Did you mean 'mnist'"):
        load_dataset("mnsit")
    (tmp_path / "pictures").mkdir()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UnknownNameError, match="folder:pictures"):
        load_dataset("pictures")


@pytest.mark.parametrize("field, value", [("image_size", 0), ("channels", 2)])
def test_options_reject_impossible_values(field, value):
    with pytest.raises(UsageError):
        DatasetOptions(**{field: value})


# -- IDX ----------------------------------------------------------------------------------------------------
def test_idx_round_trip_gzip_or_raw(tmp_path):
    images, _ = random_digits(3, seed=0)
    (tmp_path / "raw").write_bytes(idx_bytes(images))
    (tmp_path / "packed.gz").write_bytes(gzip.compress(idx_bytes(images)))
    assert np.array_equal(read_idx(tmp_path / "raw"), images)
    assert np.array_equal(read_idx(tmp_path / "packed.gz"), images)


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"<html>Not Found</html>", "not an IDX file"),
        (b"\x00\x00\x08\x03\x00\x00", "ends inside its IDX header"),
        (idx_bytes(np.zeros((2, 28, 28), np.uint8))[:-5], "truncated"),
        (idx_bytes(np.zeros((2, 28, 28), np.uint8)) + b"extra", "bytes follow"),
        (b"", "not an IDX file"),
    ],
)
def test_idx_rejects_damaged_files(raw, message):
    with pytest.raises(DatasetError, match=message):
        parse_idx(raw, "the file")


def test_idx_rejects_a_damaged_gzip(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros((2, 28, 28), np.uint8)))[:-10])
    with pytest.raises(DatasetError, match="damaged gzip"):
        read_idx(path)


def test_mnist_loads_from_a_data_dir_of_idx_files(tmp_path):
    train_images, train_labels = random_digits(7, seed=1)
    test_images, test_labels = random_digits(3, seed=2)
    write_idx_split(tmp_path / "data", "train", train_images, train_labels, compress=True)
    write_idx_split(tmp_path / "data", "t10k", test_images, test_labels, compress=False)
    options = DatasetOptions(data_dir=tmp_path / "data", download=False)
    train = load_dataset("mnist:train", options=options)
    test = load_dataset("mnist:test", options=options)
    assert train.images.shape == (7, 1, 28, 28) and train.images.dtype == torch.uint8
    assert np.array_equal(train.images[:, 0].numpy(), train_images)
    assert np.array_equal(train.labels.numpy(), train_labels)
    assert np.array_equal(test.images[:, 0].numpy(), test_images)
    assert ganzoo.zoo().datasets.get("mnist").availability(options).status == "local"


def test_idx_datasets_look_in_GANZOO_DATA_DIR_and_torchvision_layouts(tmp_path, monkeypatch):
    images, labels = random_digits(2, seed=3)
    write_idx_split(tmp_path / "env" / "fashion-mnist", "t10k", images, labels, compress=True)
    write_idx_split(tmp_path / "tv" / "KMNIST" / "raw", "t10k", images, labels, compress=False)
    monkeypatch.setenv("GANZOO_DATA_DIR", str(tmp_path / "env"))
    assert len(load_dataset("fashion:test", options=DatasetOptions(download=False))) == 2
    assert (
        len(load_dataset("kmnist:test", options=DatasetOptions(data_dir=tmp_path / "tv", download=False)))
        == 2
    )


def test_mnist_offline_without_files_says_where_it_looked(tmp_path):
    with pytest.raises(DatasetError) as failure:
        load_dataset("mnist:test", options=DatasetOptions(data_dir=tmp_path / "nowhere", download=False))
    message = str(failure.value)
    for expected in (str(tmp_path / "nowhere"), "t10k-images-idx3-ubyte.gz", "--data-dir", "GANZOO_DATA_DIR"):
        assert expected in message
    assert str(tmp_path / "cache" / "ganzoo" / "mnist") in message


def test_mismatched_idx_files_are_reported(tmp_path):
    images, _ = random_digits(4, seed=4)
    _, labels = random_digits(3, seed=5)
    write_idx_split(tmp_path, "t10k", images, labels, compress=False)
    with pytest.raises(DatasetError, match="4 images but .* 3 labels"):
        load_dataset("mnist:test", options=DatasetOptions(data_dir=tmp_path, download=False))
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros((4, 28, 28), np.uint8)))
    with pytest.raises(DatasetError, match="does not hold mnist labels"):
        load_dataset("mnist:test", options=DatasetOptions(data_dir=tmp_path, download=False))


def test_mnist_from_the_shared_files_matches_mnist_10k(shared_mnist, tmp_path):
    # The shared directory holds the canonical test files (and only part of the training set).
    options = DatasetOptions(data_dir=shared_mnist, download=False)
    full_test = load_dataset("mnist:test", options=options)
    assert torch.bincount(full_test.labels, minlength=10).tolist() == MNIST_TEST_CLASS_COUNTS
    assert full_test.fingerprint == load_dataset("mnist-10k:test").fingerprint


# -- CIFAR-10 from local files ------------------------------------------------------------------------------
def cifar_records(labels: list[int], seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (len(labels), RECORD_BYTES - 1), dtype=np.uint8)
    return np.concatenate([np.array(labels, np.uint8)[:, None], pixels], axis=1).tobytes()


def test_cifar10_reads_the_binary_batches(tmp_path):
    batches = tmp_path / "cifar-10-batches-bin"
    batches.mkdir()
    for index in range(1, 6):
        (batches / f"data_batch_{index}.bin").write_bytes(cifar_records([index, 0], seed=index))
    record = bytes([7]) + bytes([10] * 1024 + [20] * 1024 + [30] * 1024)
    (batches / "test_batch.bin").write_bytes(record)
    options = DatasetOptions(data_dir=tmp_path, download=False)
    train = load_dataset("cifar10:train", options=options)
    assert train.images.shape == (10, 3, 32, 32) and train.labels.tolist() == [1, 0, 2, 0, 3, 0, 4, 0, 5, 0]
    test = load_dataset("cifar-10:test", options=options)
    assert test.labels.tolist() == [7]
    assert [int(test.images[0, c].unique()) for c in range(3)] == [10, 20, 30]  # planes are R, G, B
    assert Cifar10Source().availability(options).status == "local"


def test_cifar10_rejects_a_truncated_batch(tmp_path):
    (tmp_path / "test_batch.bin").write_bytes(cifar_records([1, 2], seed=0)[:-1])
    with pytest.raises(DatasetError, match="whole number"):
        load_dataset("cifar10:test", options=DatasetOptions(data_dir=tmp_path, download=False))


def test_cifar10_offline_says_where_it_looked(tmp_path):
    with pytest.raises(DatasetError, match="cifar-10-binary.tar.gz") as failure:
        load_dataset("cifar10:test", options=DatasetOptions(data_dir=tmp_path, download=False))
    assert str(tmp_path) in str(failure.value)


# -- the command and the shared options ---------------------------------------------------------------------
def test_ganzoo_datasets_shows_mnist_10k_available_offline():
    result = CliRunner().invoke(cli, ["datasets", "--no-download"])
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if "mnist-10k" in line)
    assert "yes (embedded)" in line


def test_ganzoo_datasets_json(tmp_path):
    images, labels = random_digits(2, seed=6)
    for prefix in ("train", "t10k"):
        write_idx_split(tmp_path, prefix, images, labels, compress=True)
    result = CliRunner().invoke(cli, ["datasets", "--json", "--data-dir", str(tmp_path), "--no-download"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert {"mnist-10k", "mnist", "fashion-mnist", "kmnist", "cifar10"} <= set(rows)
    assert rows["mnist-10k"]["status"] == "embedded" and rows["mnist-10k"]["size_bytes"] > 0
    assert rows["mnist"]["status"] == "local" and rows["mnist"]["location"] == str(tmp_path)
    assert rows["cifar10"]["status"] == "unavailable"
    assert all(row["license"] for row in rows.values())


@pytest.fixture
def load_command():
    """A command built the way train/fid/bench are: a dataset argument and the shared options."""

    @click.group(cls=GanzooGroup)
    def group():
        pass

    @group.command("load")
    @click.argument("source")
    @dataset_options
    def load(source, **kwargs):
        data = load_dataset(source, options=options_from_cli(**kwargs))
        click.echo(f"{len(data)} {tuple(data.image_shape)}")

    return group


def test_dataset_options_reach_the_loader(load_command, tmp_path):
    write_idx_split(tmp_path, "t10k", *random_digits(3, seed=7), compress=True)
    result = CliRunner().invoke(
        load_command, ["load", "mnist:test", "--data-dir", str(tmp_path), "--no-download"]
    )
    assert (result.exit_code, result.output.strip()) == (0, "3 (1, 28, 28)")


@pytest.mark.parametrize(
    "args, exit_code, message",
    [
        (["load", "mnst"], 2, "Did you mean 'mnist'"),
        (["load", "mnist-10k", "--channels", "2"], 2, "'2' is not one of"),
        (["load", "mnist:test", "--no-download", "--data-dir", "/nonexistent"], 1, "downloads are off"),
        (["load", "folder:/nonexistent/pictures"], 1, "does not exist"),
    ],
)
def test_cli_errors_exit_cleanly(load_command, args, exit_code, message):
    result = CliRunner().invoke(load_command, args)
    assert result.exit_code == exit_code
    assert message in result.output
    assert "Traceback" not in result.output and not isinstance(result.exception, (DatasetError, KeyError))


def test_options_from_cli_ignores_other_keywords(tmp_path):
    options = options_from_cli(data_dir=str(tmp_path), channels="3", no_download=True, model="dcgan", steps=5)
    assert options == DatasetOptions(data_dir=tmp_path, channels=3, download=False)


def test_a_bad_cached_download_is_removed(tmp_path):
    cache = tmp_path / "cache" / "ganzoo" / "mnist"
    cache.mkdir(parents=True)
    (cache / "t10k-images-idx3-ubyte.gz").write_bytes(b"<html>an error page saved by a proxy</html>")
    (cache / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros(1, np.uint8))))
    with pytest.raises(DatasetError, match="has been removed"):
        load_dataset("mnist:test", options=DatasetOptions(download=False))
    assert not (cache / "t10k-images-idx3-ubyte.gz").exists()
