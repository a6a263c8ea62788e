"""``folder:PATH`` on PNGs and JPEGs the tests write: discovery at any depth, grayscale/RGB, crop and resize,
the decode cache, and unreadable files (skipped with a count, fatal with strict)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from ganzoo.datasets import folder
from ganzoo.datasets.base import DatasetOptions, load_dataset
from ganzoo.errors import DatasetError, UsageError

OPTIONS = DatasetOptions(image_size=8, progress=False)


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "ganzoo" / "folders"


def solid(path, value, size=(12, 10), mode="L", fmt=None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, value).save(path, format=fmt)


@pytest.fixture
def pictures(tmp_path):
    """Three readable images at different depths (gray PNG, color PNG, color JPEG), one corrupt PNG, and
    files that are not images or are hidden."""
    root = tmp_path / "pictures"
    solid(root / "a.png", 40)
    solid(root / "b" / "c" / "deep.png", (200, 10, 10), mode="RGB")
    solid(root / "b.JPG", (10, 10, 200), size=(30, 20), mode="RGB", fmt="JPEG")
    (root / "b" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not really a PNG")
    (root / "notes.txt").write_text("not an image")
    solid(root / ".hidden" / "x.png", 0)
    return root


def test_a_folder_loads_every_image_and_skips_the_corrupt_one(pictures, capsys):
    data = load_dataset(f"folder:{pictures}", options=OPTIONS)
    assert data.images.shape == (3, 3, 8, 8) and data.images.dtype == torch.uint8
    assert data.labels is None
    # Sorted by relative path: a.png, b.JPG, b/c/deep.png.
    assert data.images[0].unique().tolist() == [40]
    assert data.images[1, 2].float().mean() > 150 > data.images[1, 0].float().mean()  # blue
    assert data.images[2, 0].unique().tolist() == [200]  # red
    err = capsys.readouterr().err
    assert "skipped 1 unreadable of 4" in err and "b/broken.png" in err


def test_strict_makes_a_corrupt_file_fatal(pictures):
    with pytest.raises(DatasetError, match="b/broken.png"):
        load_dataset(f"folder:{pictures}", options=DatasetOptions(image_size=8, strict=True, progress=False))


def test_strict_applies_to_a_cached_folder_too(pictures):
    load_dataset(f"folder:{pictures}", options=OPTIONS)
    with pytest.raises(DatasetError, match="unreadable"):
        load_dataset(f"folder:{pictures}", options=DatasetOptions(image_size=8, strict=True, progress=False))


def test_grayscale_by_default_when_every_image_is(tmp_path):
    solid(tmp_path / "one.png", 10)
    solid(tmp_path / "two.png", (90, 90, 90), mode="RGB")  # gray pixels stored as RGB
    assert load_dataset(f"folder:{tmp_path}", options=OPTIONS).images.shape == (2, 1, 8, 8)
    rgb = load_dataset(f"folder:{tmp_path}", options=DatasetOptions(image_size=8, channels=3, progress=False))
    assert rgb.images.shape == (2, 3, 8, 8) and rgb.images[1].unique().tolist() == [90]


def test_channels_1_converts_color_to_luma(tmp_path):
    solid(tmp_path / "red.png", (255, 0, 0), mode="RGB")
    data = load_dataset(
        f"folder:{tmp_path}", options=DatasetOptions(image_size=8, channels=1, progress=False)
    )
    assert data.images.shape == (1, 1, 8, 8)
    assert data.images.unique().tolist() == [76]  # ITU-R 601-2 luma of pure red, as PIL computes it


def test_the_shorter_side_is_kept_and_the_center_cropped(tmp_path):
    # 30x10 image: a red band on each side of a green center 10 pixels wide.
    pixels = np.zeros((10, 30, 3), np.uint8)
    pixels[:, :10] = pixels[:, 20:] = (255, 0, 0)
    pixels[:, 10:20] = (0, 255, 0)
    Image.fromarray(pixels).save(tmp_path / "wide.png")
    data = load_dataset(f"folder:{tmp_path}", options=DatasetOptions(image_size=5, progress=False))
    assert data.images.shape == (1, 3, 5, 5)
    assert data.images[0, 1].unique().tolist() == [255] and data.images[0, 0].unique().tolist() == [0]


def test_the_default_size_is_64(tmp_path):
    solid(tmp_path / "x.png", 1, size=(100, 80))
    assert load_dataset(f"folder:{tmp_path}", options=DatasetOptions(progress=False)).image_shape == (
        1,
        64,
        64,
    )


def test_sixteen_bit_and_transparent_images(tmp_path):
    Image.fromarray(np.full((8, 8), 65535, np.uint16)).save(tmp_path / "deep.png")
    palette = Image.new("P", (8, 8), 1)
    palette.putpalette([0, 0, 0, 30, 30, 30] + [0] * 762)
    palette.save(tmp_path / "palette.png", transparency=0)
    data = load_dataset(f"folder:{tmp_path}", options=OPTIONS)
    assert data.images[:, 0, 0, 0].tolist() == [255, 30]


def test_decoding_happens_once_and_a_changed_file_is_seen(pictures, cache, monkeypatch, capsys):
    first = load_dataset(f"folder:{pictures}", options=OPTIONS)
    assert [p.suffix for p in cache.iterdir()] == [".npz"]

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again although the cache is valid")

    with monkeypatch.context() as patch:
        patch.setattr(folder, "decode_image", no_decoding)
        second = load_dataset(f"folder:{pictures}", options=OPTIONS)
    assert second.fingerprint == first.fingerprint
    assert "skipped 1 unreadable" in capsys.readouterr().err  # reported again from the cache
    solid(pictures / "a.png", 41)
    assert load_dataset(f"folder:{pictures}", options=OPTIONS).images[0].unique().tolist() == [41]


def test_a_damaged_cache_file_is_rebuilt(tmp_path, cache):
    solid(tmp_path / "x.png", 7)
    load_dataset(f"folder:{tmp_path}", options=OPTIONS)
    (cache_file,) = cache.iterdir()
    cache_file.write_bytes(b"not an npz")
    assert load_dataset(f"folder:{tmp_path}", options=OPTIONS).images.unique().tolist() == [7]


def test_test_is_the_same_split_as_train(tmp_path):
    solid(tmp_path / "x.png", 7)
    test = load_dataset(f"folder:{tmp_path}", split="test", options=OPTIONS)
    assert test.split == "test"
    assert test.fingerprint == load_dataset(f"folder:{tmp_path}", split="train", options=OPTIONS).fingerprint
    with pytest.raises(UsageError, match="no split 'validation'"):
        load_dataset(f"folder:{tmp_path}", split="validation", options=OPTIONS)


def test_empty_missing_and_unreadable_folders_are_clear_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no PNG or JPEG images"):
        load_dataset(f"folder:{tmp_path / 'empty'}", options=OPTIONS)
    with pytest.raises(DatasetError, match="does not exist"):
        load_dataset(f"folder:{tmp_path / 'nowhere'}", options=OPTIONS)
    (tmp_path / "file.png").write_bytes(b"junk")
    with pytest.raises(DatasetError, match="not a directory"):
        load_dataset(f"folder:{tmp_path / 'file.png'}", options=OPTIONS)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "one.jpg").write_bytes(b"\xff\xd8\xff junk")
    with pytest.raises(DatasetError, match="none could be read"):
        load_dataset(f"folder:{tmp_path / 'bad'}", options=OPTIONS)
    assert not (tmp_path / "cache" / "ganzoo" / "folders").exists()  # nothing cached for a failed folder
