"""``inception``: torchmetrics' InceptionV3 (torch-fidelity's FID network) for scores comparable with papers.

Its weights come from a local file named by ``--inception-weights`` or ``GANZOO_INCEPTION_WEIGHTS``, else
from the standard FID weights file, downloaded once into the cache and verified (inception_weights.py);
without torch-fidelity (which needs torchvision) building it fails with a message saying what to install.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
from torch import nn

from ganzoo.checkpoint import file_sha256
from ganzoo.errors import GanzooError, UsageError, exception_line
from ganzoo.metrics.extractors import InputConversions, resize_line

WEIGHTS_ENV = "GANZOO_INCEPTION_WEIGHTS"
NUM_FEATURES = 2048
INPUT_SIZE = 299
WEIGHTS_HINT = (
    "let ganzoo download pt_inception-2015-12-05-6726825d.pth (the FID InceptionV3 weights of pytorch-fid "
    "and torch-fidelity) into its cache, or download it on a machine with a network and pass its path with "
    f"--inception-weights PATH or {WEIGHTS_ENV}=PATH"
)


class InceptionFeatures(nn.Module):
    """uint8 images (N, 1 or 3, H, W) -> InceptionV3 pool features (N, 2048); grayscale is repeated to RGB."""

    num_features = NUM_FEATURES
    max_batch_size = 50  # 299x299 activations: larger batches take gigabytes of memory on the CPU

    def __init__(self, network: nn.Module, weights_sha256: str) -> None:
        super().__init__()
        self.network = network
        self.weights_sha256 = weights_sha256

    def describe_input(self, images: torch.Tensor) -> InputConversions:
        """What torchmetrics' InceptionV3 does to ``images``: channels, the TF1-style resize, the range."""
        lines = ["channels: grayscale repeated to RGB"] if images.shape[1] == 1 else []
        size = resize_line(*images.shape[-2:], INPUT_SIZE, "bilinear, TF1-style, no antialiasing")
        lines += [size] if size else []
        lines.append("range: [0, 255] -> [-1, 1]")
        return InputConversions(tuple(lines))

    def logits_from_features(self, features: torch.Tensor) -> torch.Tensor:
        """InceptionV3's 1008 class logits without the bias ("logits_unbiased", what the Inception Score uses)
        from its pool features."""
        return features.to(self.network.fc.weight.dtype) @ self.network.fc.weight.T

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.shape[1] == 1:
            images = images.expand(-1, 3, -1, -1)
        elif images.shape[1] != 3:
            raise UsageError(
                f"the inception extractor takes 1- or 3-channel images; got {images.shape[1]} channels."
            )
        return self.network(images)


def torch_fidelity_installed() -> bool:
    return importlib.util.find_spec("torch_fidelity") is not None


def inception_network(weights: Path) -> nn.Module:
    """torchmetrics' FID InceptionV3 with the given weights; resizing to 299 uses TF1-style bilinear
    interpolation (``antialias=False``), as the reference FID implementation does."""
    from torchmetrics.image.fid import NoTrainInceptionV3

    refuse_pickled_objects(weights)
    return NoTrainInceptionV3(
        name="inception-v3-compat",
        features_list=[str(NUM_FEATURES)],
        feature_extractor_weights_path=str(weights),
        antialias=False,
    )


def refuse_pickled_objects(weights: Path) -> None:
    """torch-fidelity reads the file with a plain ``torch.load``, which unpickles arbitrary objects on
    torch older than 2.6; reading it with ``weights_only=True`` first refuses a file holding more than
    tensors."""
    try:
        torch.load(weights, map_location="cpu", weights_only=True)
    except Exception as exc:  # an UnpicklingError for objects, a RuntimeError for a damaged file
        raise GanzooError(
            f"{weights} is not a plain file of InceptionV3 weights and was refused without running "
            f"anything in it ({exception_line(exc)}); {WEIGHTS_HINT}."
        ) from None


def build_inception(weights: Path | None = None, *, download: bool = True) -> InceptionFeatures:
    """The extractor from ``weights``, else from ``$GANZOO_INCEPTION_WEIGHTS``, else from the standard file in
    the cache (downloaded once and verified, unless ``download`` is False)."""
    from ganzoo.metrics.inception_weights import resolve_inception_weights, user_weights

    given = user_weights(weights)
    if given is None and not torch_fidelity_installed():  # before fetching 96 MB it could not use
        raise UsageError(
            f"the inception extractor needs torch-fidelity (`pip install torch-fidelity`, which requires "
            f"torchvision) and its weights: {WEIGHTS_HINT}."
        )
    if given is not None and not given.is_file():
        raise UsageError(f"no inception weights file at {given}; {WEIGHTS_HINT}.")
    if not torch_fidelity_installed():
        raise GanzooError(
            "the inception extractor needs torch-fidelity, which ganzoo does not install (it requires "
            "torchvision): `pip install torch-fidelity` with the torchvision build matching your torch."
        )
    weights = given or resolve_inception_weights(None, download=download)
    try:
        network = inception_network(weights)
    except (RuntimeError, ValueError, OSError, KeyError) as exc:
        raise GanzooError(f"cannot load inception weights from {weights}: {exc}") from exc
    return InceptionFeatures(network, "sha256:" + file_sha256(weights)).eval()
