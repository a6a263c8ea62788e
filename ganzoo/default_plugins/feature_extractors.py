"""Registers the built-in feature extractors for FID and KID; each loads its weights only when built."""

from ganzoo.hookspecs import hookimpl
from ganzoo.metrics.extractors import FeatureExtractorSpec


def _build_lenet_mnist():
    from ganzoo.metrics.lenet import load_lenet_mnist

    return load_lenet_mnist()


def _build_inception(weights=None):
    from ganzoo.metrics.inception import build_inception

    return build_inception(weights)


LENET_MNIST = FeatureExtractorSpec(
    name="lenet-mnist",
    summary="128 pre-activation features of a small CNN trained by ganzoo on mnist-10k (default for MNIST)",
    build=_build_lenet_mnist,
    aliases=("lenet",),
)
INCEPTION = FeatureExtractorSpec(
    name="inception",
    summary="InceptionV3 pool features (2048), comparable with papers; needs torch-fidelity and local weights",
    build=_build_inception,
    aliases=("inception-v3",),
    build_from_file=_build_inception,
)


@hookimpl
def register_feature_extractors(register):
    register(LENET_MNIST)
    register(INCEPTION)
