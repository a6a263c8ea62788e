"""The CLI's commands, one module per area; ganzoo.cli names each (ganzoo.cli.COMMANDS) and imports a module
only when one of its commands runs."""

import click

# --seed of every command: torch and numpy take seeds up to 2**32 - 1 everywhere (larger ones overflow
# torch.manual_seed, negative ones mean nothing more), and commands derive seed + 1, seed + 2 from it.
SEED = click.IntRange(0, 2**32 - 1)
