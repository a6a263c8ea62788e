"""Train ``lenet-mnist``, the FID/KID feature extractor shipped as ganzoo/data/lenet_mnist.pt.

Usage: python tools/train_lenet.py [--out PATH] [--overwrite] [--check]

Training runs on the CPU in one thread with fixed seeds and deterministic algorithms, so the same torch
version on the same CPU instruction set rebuilds the file bit for bit (``--check`` trains and compares
with the shipped hash without writing anything). Data: mnist-10k's train split; light augmentation
(random rotations of up to 10 degrees, scaling by up to 10 %, shifts of up to 2 pixels). After training,
the features' centre and scale on the train split are stored with the weights (see LeNetMnist).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import math
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

import ganzoo
from ganzoo.metrics.lenet import PIXEL_MEAN, PIXEL_STD, WEIGHTS_FILE, WEIGHTS_SHA256, LeNetMnist, accuracy

SEED = 0
EPOCHS = 12
BATCH_SIZE = 128
PEAK_LEARNING_RATE = 3e-3  # one-cycle schedule with Adam
MAX_ROTATION_DEGREES = 10.0
MAX_SCALE_CHANGE = 0.1
MAX_SHIFT_PIXELS = 2.0


def augment(x: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
    """Random small affine transforms of prepared images (background stays background)."""
    n = len(x)
    angle = (torch.rand(n, generator=rng) * 2 - 1) * math.radians(MAX_ROTATION_DEGREES)
    inverse_scale = 1 / (1 + (torch.rand(n, generator=rng) * 2 - 1) * MAX_SCALE_CHANGE)
    shift = (torch.rand(n, 2, generator=rng) * 2 - 1) * (2 * MAX_SHIFT_PIXELS / x.shape[-1])
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = torch.cos(angle) * inverse_scale
    theta[:, 0, 1] = -torch.sin(angle) * inverse_scale
    theta[:, 1, 0] = torch.sin(angle) * inverse_scale
    theta[:, 1, 1] = torch.cos(angle) * inverse_scale
    theta[:, :, 2] = shift
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    background = -PIXEL_MEAN / PIXEL_STD  # a black pixel after normalization; grid_sample pads with zeros
    return F.grid_sample(x - background, grid, align_corners=False) + background


def train(epochs: int = EPOCHS, seed: int = SEED, log=print) -> LeNetMnist:
    torch.set_num_threads(1)  # a thread count that every machine has: reductions run in one order
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(seed)
    rng = torch.Generator().manual_seed(seed)
    dataset = ganzoo.load_dataset("mnist-10k:train")
    model = LeNetMnist()
    inputs = model.prepare(dataset.images)
    labels = dataset.labels
    steps_per_epoch = math.ceil(len(inputs) / BATCH_SIZE)
    optimizer = torch.optim.Adam(model.parameters())
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, PEAK_LEARNING_RATE, total_steps=epochs * steps_per_epoch
    )
    start = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(inputs), generator=rng)
        for first in range(0, len(inputs), BATCH_SIZE):
            batch = order[first : first + BATCH_SIZE]
            loss = F.cross_entropy(model.logits(augment(inputs[batch], rng)), labels[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
        log(
            f"epoch {epoch + 1}/{epochs}: last batch loss {loss.item():.4f}, {time.perf_counter() - start:.0f} s"
        )
    model.set_feature_normalization(dataset.images)
    return model.eval()


def serialize(model: LeNetMnist) -> bytes:
    """The state dict as torch.save bytes; saved through a buffer so the archive name is fixed."""
    buffer = io.BytesIO()
    torch.save(
        {key: value.detach().clone().contiguous() for key, value in model.state_dict().items()}, buffer
    )
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=WEIGHTS_FILE, help="where to write the weights")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing, different file")
    parser.add_argument("--check", action="store_true", help="compare with the shipped hash; write nothing")
    args = parser.parse_args(argv)
    model = train()
    test = ganzoo.load_dataset("mnist-10k:test")
    print(f"accuracy on mnist-10k:test: {accuracy(model, test.images, test.labels):.4f}")
    data = serialize(model)
    digest = hashlib.sha256(data).hexdigest()
    print(f"sha256: {digest} ({len(data):,} bytes)")
    if args.check:
        same = digest == WEIGHTS_SHA256
        print("identical to the shipped weights" if same else f"differs from the shipped {WEIGHTS_SHA256}")
        return 0 if same else 1
    if args.out.exists() and args.out.read_bytes() != data and not args.overwrite:
        print(f"{args.out} exists and differs; pass --overwrite to replace it.", file=sys.stderr)
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    temporary = args.out.with_name(args.out.name + ".tmp")
    temporary.write_bytes(data)
    temporary.replace(args.out)
    print(f"wrote {args.out}; set WEIGHTS_SHA256 = {digest!r} in ganzoo/metrics/lenet.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
