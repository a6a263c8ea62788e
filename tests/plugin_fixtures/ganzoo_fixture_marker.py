"""A plugin whose import writes the file named by GANZOO_FIXTURE_MARKER: proof that it was imported."""

import os
from pathlib import Path

import ganzoo

Path(os.environ["GANZOO_FIXTURE_MARKER"]).write_text("imported\n")


@ganzoo.hookimpl
def register_losses(register):
    pass
