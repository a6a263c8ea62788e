"""Registers the built-in datasets: the embedded mnist-10k, the IDX family (mnist, fashion-mnist, kmnist) and
cifar10. Registering reads no data; each source finds or downloads its files only when loaded."""

from ganzoo.datasets.cifar10 import Cifar10Source
from ganzoo.datasets.embedded import EmbeddedMnist
from ganzoo.datasets.idx import mnist_family
from ganzoo.hookspecs import hookimpl


@hookimpl
def register_datasets(register):
    register(EmbeddedMnist())
    for source in mnist_family():
        register(source)
    register(Cifar10Source())
