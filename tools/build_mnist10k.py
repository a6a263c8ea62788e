"""Build ganzoo/data/mnist10k.npz, the embedded default dataset, from the real MNIST IDX files.

Usage: python tools/build_mnist10k.py [SOURCE_DIR]   (default: ../shared/data/mnist)

Inputs are verified against the sha256 sums below before anything is written; the output is rebuilt
bit for bit from the same inputs. MNIST: Yann LeCun and Corinna Cortes, CC BY-SA 3.0.
"""

from __future__ import annotations

import gzip
import hashlib
import sys
from pathlib import Path

import numpy as np

INPUTS = {
    "train10k-images-idx3-ubyte.gz": "36707bfd63bcc1baf911512db8f40af1940d9fc513cb862f99741a994da05181",
    "train10k-labels-idx1-ubyte.gz": "ddb336c35d26d6499f325832214cfd852954d037817de7f291d8e80ad0912b32",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
OUTPUT = Path(__file__).resolve().parent.parent / "ganzoo" / "data" / "mnist10k.npz"


def read_idx(raw: bytes) -> np.ndarray:
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def main(source: Path) -> None:
    arrays = {}
    for filename, expected in INPUTS.items():
        data = (source / filename).read_bytes()
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected:
            sys.exit(f"{filename}: sha256 {actual} does not match {expected}")
        arrays[filename] = read_idx(gzip.decompress(data))
    np.savez_compressed(
        OUTPUT,
        train_images=arrays["train10k-images-idx3-ubyte.gz"][:, None],
        train_labels=arrays["train10k-labels-idx1-ubyte.gz"],
        test_images=arrays["t10k-images-idx3-ubyte.gz"][:, None],
        test_labels=arrays["t10k-labels-idx1-ubyte.gz"],
    )
    print(f"wrote {OUTPUT} ({OUTPUT.stat().st_size / 1e6:.2f} MB), sha256 {hashlib.sha256(OUTPUT.read_bytes()).hexdigest()}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist")
