"""Registers the built-in differentiable augmentations (DiffAugment's colour, translation and cutout)."""

from ganzoo.augment import BUILTIN_AUGMENTATIONS
from ganzoo.hookspecs import hookimpl


@hookimpl
def register_augmentations(register):
    for augmentation in BUILTIN_AUGMENTATIONS:
        register(augmentation)
