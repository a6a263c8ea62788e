"""ganzoo's built-in GAN variants: ordinary plugins, found through the ``ganzoo`` entry-point group."""
