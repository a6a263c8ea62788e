"""``lenet-mnist``: a small CNN trained by ganzoo on mnist-10k, whose penultimate layer gives FID/KID features.

The weights ship as package data (rebuilt by ``python tools/train_lenet.py``) and are verified by sha256
before ``torch.load(weights_only=True)`` reads them.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ganzoo.checkpoint import file_sha256
from ganzoo.errors import CheckpointError, UsageError
from ganzoo.metrics.extractors import InputConversions, is_colour, resize_line

WEIGHTS_FILE = Path(__file__).resolve().parent.parent / "data" / "lenet_mnist.pt"
# The sha256 of the shipped weights; tools/train_lenet.py prints the value for a rebuilt file.
WEIGHTS_SHA256 = "37a1170a5556e2c20936f16361fc1518aa837ed60b89d519a2e60b3be0c9d5ff"
NUM_FEATURES = 128
INPUT_SIZE = 28
NUM_CLASSES = 10
# MNIST's pixel mean and standard deviation, so that the network sees inputs of unit scale.
PIXEL_MEAN, PIXEL_STD = 0.1307, 0.3081
# ITU-R BT.601 luma weights: how RGB images are turned into the grayscale the network was trained on.
LUMA_WEIGHTS = (0.299, 0.587, 0.114)


class LeNetMnist(nn.Module):
    """Maps uint8 images (N, C, H, W) to 128 features: the pre-activation output of the penultimate layer.

    Pre-activation values, because a ReLU before the feature layer leaves features that are zero on every
    image, which makes the covariance FID needs singular. They are centred and divided by one scale, fixed
    constants measured on the training split and stored with the weights: FID only changes by that constant
    factor, and KID's cubic kernel, made for features of order one, stops being dominated by a few huge
    values. RGB input is converted to grayscale and any size is resized to 28x28 (bilinear,
    ``antialias=False``).
    """

    num_features = NUM_FEATURES  # read by torchmetrics, which then skips its dummy 299x299 forward pass

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        self.convolutions = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(2 * width, 2 * width, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
        )
        self.feature_layer = nn.Linear(2 * width * (INPUT_SIZE // 4) ** 2, NUM_FEATURES)
        self.dropout = nn.Dropout(0.3)
        self.classifier = nn.Linear(NUM_FEATURES, NUM_CLASSES)
        self.register_buffer("feature_center", torch.zeros(NUM_FEATURES))
        self.register_buffer("feature_scale", torch.ones(()))

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (N, C, H, W) -> normalized float32 (N, 1, 28, 28)."""
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise UsageError(
                f"lenet-mnist expects uint8 images (N, C, H, W); got {images.dtype} {tuple(images.shape)}."
            )
        x = images.to(torch.float32).div_(255.0)
        if x.shape[1] == 3:
            luma = torch.tensor(LUMA_WEIGHTS, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
            x = (x * luma).sum(dim=1, keepdim=True)
        elif x.shape[1] != 1:
            raise UsageError(f"lenet-mnist takes 1- or 3-channel images; got {x.shape[1]} channels.")
        if x.shape[-2:] != (INPUT_SIZE, INPUT_SIZE):
            x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", antialias=False)
        return (x - PIXEL_MEAN) / PIXEL_STD

    def describe_input(self, images: torch.Tensor) -> InputConversions:
        """What :meth:`prepare` does to ``images`` (uint8), and a warning for colour images."""
        lines, warnings = [], []
        if images.shape[1] == 3:
            colour = is_colour(images)
            lines.append(
                "channels: RGB -> grayscale (ITU-R BT.601 luma)"
                if colour
                else "channels: RGB with three equal channels -> grayscale (unchanged pixels)"
            )
            if colour:
                warnings.append(
                    "lenet-mnist was trained on grayscale MNIST digits and sees these colour images only as "
                    "grayscale: its scores say nothing about colour and little about images that are not digits."
                )
        size = resize_line(*images.shape[-2:], INPUT_SIZE, "bilinear, no antialiasing")
        if size:
            lines.append(size)
        lines.append(f"range: [0, 255] -> [0, 1], then standardised with MNIST's mean {PIXEL_MEAN} and std {PIXEL_STD}")
        return InputConversions(tuple(lines), tuple(warnings))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Prepared float images -> the feature layer's raw pre-activation output (N, 128)."""
        return self.feature_layer(self.convolutions(x))

    @torch.no_grad()
    def set_feature_normalization(self, training_images: torch.Tensor, batch_size: int = 1000) -> None:
        """Fix the centre and scale of the features to their values on ``training_images`` (uint8)."""
        was_training = self.training
        self.eval()
        raw = torch.cat(
            [
                self.embed(self.prepare(training_images[i : i + batch_size]))
                for i in range(0, len(training_images), batch_size)
            ]
        ).double()
        center = raw.mean(dim=0)
        self.feature_center.copy_(center)
        self.feature_scale.copy_((raw - center).pow(2).mean().sqrt())
        self.train(was_training)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Prepared float images -> class logits (N, 10); what the network was trained on."""
        return self.classifier(self.dropout(F.relu(self.embed(x))))

    def logits_from_features(self, features: torch.Tensor) -> torch.Tensor:
        """The classifier's logits from :meth:`forward`'s normalized features (for the classifier score)."""
        embedded = features * self.feature_scale + self.feature_center
        return self.classifier(self.dropout(F.relu(embedded)))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return (self.embed(self.prepare(images)) - self.feature_center) / self.feature_scale

    @torch.no_grad()
    def classify(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 images -> predicted digit (N,)."""
        return self.logits(self.prepare(images)).argmax(dim=1)


def load_lenet_mnist(path: Path = WEIGHTS_FILE, expected_sha256: str | None = None) -> LeNetMnist:
    """The trained network in eval mode, after checking the weights file's sha256 (default: the shipped one).

    The file is read only if its hash matches, and then only as tensors (``weights_only=True``), so a
    replaced or tampered file can neither load wrong weights silently nor run code.
    """
    expected = expected_sha256 or WEIGHTS_SHA256
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"the lenet-mnist weights {path} are missing; reinstall ganzoo or rebuild them with "
            "`python tools/train_lenet.py`."
        )
    actual = file_sha256(path)
    if actual != expected:
        raise CheckpointError(
            f"the lenet-mnist weights {path} have sha256 {actual}, expected {expected}: the file is corrupt "
            "or was replaced. Reinstall ganzoo, or rebuild it with `python tools/train_lenet.py --check`."
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as exc:
        raise CheckpointError(
            f"the lenet-mnist weights {path} are not a plain state dict of tensors: {exc}"
        ) from exc
    model = LeNetMnist()
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as exc:
        raise CheckpointError(f"the lenet-mnist weights {path} do not fit the network: {exc}") from exc
    model.weights_sha256 = "sha256:" + actual
    return model.eval().requires_grad_(False)


@torch.no_grad()
def accuracy(model: LeNetMnist, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000) -> float:
    """The fraction of ``images`` (uint8) whose predicted digit equals ``labels``."""
    was_training = model.training
    model.eval()
    correct = 0
    for start in range(0, len(images), batch_size):
        predicted = model.classify(images[start : start + batch_size])
        correct += int((predicted == labels[start : start + batch_size]).sum())
    model.train(was_training)
    return correct / max(len(images), 1)
