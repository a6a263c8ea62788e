"""A plugin with a misspelt hook: "register_model" instead of "register_models"."""

import ganzoo_fixture_tiny

import ganzoo


@ganzoo.hookimpl
def register_model(register):
    register(ganzoo_fixture_tiny.SPEC)
