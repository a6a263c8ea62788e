"""Registers the built-in datasets."""

from ganzoo.datasets.embedded import EmbeddedMnist
from ganzoo.hookspecs import hookimpl


@hookimpl
def register_datasets(register):
    register(EmbeddedMnist())
