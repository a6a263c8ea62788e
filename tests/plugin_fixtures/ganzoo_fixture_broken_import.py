"""A plugin whose import fails: it needs a package that is not installed."""

import ganzoo_fixture_missing_dependency  # noqa: F401

import ganzoo


@ganzoo.hookimpl
def register_models(register):
    raise AssertionError("never called: the import failed")
