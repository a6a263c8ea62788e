"""A plugin that registers a model spec with fields of the wrong types."""

import dataclasses

import ganzoo_fixture_tiny

import ganzoo


@ganzoo.hookimpl
def register_models(register):
    register(dataclasses.replace(ganzoo_fixture_tiny.SPEC, name="badgan", aliases=(), image_shapes="28x28"))
