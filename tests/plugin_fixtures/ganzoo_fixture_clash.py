"""A plugin that claims the name of a built-in model ("dcgan") and another that is free ("clashfree")."""

import dataclasses

import ganzoo_fixture_tiny

import ganzoo


@ganzoo.hookimpl
def register_models(register):
    register(dataclasses.replace(ganzoo_fixture_tiny.SPEC, name="clashfree", aliases=()))
    register(dataclasses.replace(ganzoo_fixture_tiny.SPEC, name="dcgan", aliases=()))
