"""The CLI's commands, one module per area; ganzoo.cli assembles them into the ``ganzoo`` group."""
