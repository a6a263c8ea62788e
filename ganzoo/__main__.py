"""``python -m ganzoo`` runs the CLI (and is what ``torchrun -m ganzoo`` starts on each rank)."""

from ganzoo.cli import main

if __name__ == "__main__":
    main()
