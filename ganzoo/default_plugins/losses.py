"""Registers the built-in losses and penalties."""

from ganzoo.hookspecs import hookimpl
from ganzoo.losses import BUILTIN_LOSSES


@hookimpl
def register_losses(register):
    for loss in BUILTIN_LOSSES:
        register(loss)
