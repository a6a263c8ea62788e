"""A plugin that registers one model and then raises inside its hook."""

import dataclasses

import ganzoo_fixture_tiny

import ganzoo


@ganzoo.hookimpl
def register_models(register):
    register(dataclasses.replace(ganzoo_fixture_tiny.SPEC, name="halfgan", aliases=()))
    raise RuntimeError("the fixture's hook failed on purpose")
