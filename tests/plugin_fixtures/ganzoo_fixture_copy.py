"""A plugin that registers the same model as ganzoo_fixture_tiny: two third-party plugins claim "tinygan"."""

import ganzoo_fixture_tiny

import ganzoo


@ganzoo.hookimpl
def register_models(register):
    register(ganzoo_fixture_tiny.SPEC)
