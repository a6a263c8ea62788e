"""Registers the built-in feature extractors for FID and KID."""

from ganzoo.hookspecs import hookimpl


@hookimpl
def register_feature_extractors(register):
    pass
