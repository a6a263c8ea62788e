"""The longest modules and classes of a package, against the developers' guide's limits (a module about 450
lines, a class about 200); exits 1 when something is over.

    python tools/code_size.py [ganzoo] [--top 5]
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

MAX_MODULE_LINES = 450
MAX_CLASS_LINES = 200


def sizes(root: Path) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """(lines, path) of every module and (lines, path:Class) of every class under ``root``, longest first."""
    modules, classes = [], []
    for path in sorted(root.rglob("*.py")):
        text = path.read_text()
        modules.append((len(text.splitlines()), str(path)))
        for node in ast.walk(ast.parse(text, filename=str(path))):
            if isinstance(node, ast.ClassDef):
                classes.append((node.end_lineno - node.lineno + 1, f"{path}:{node.name}"))
    return sorted(modules, reverse=True), sorted(classes, reverse=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", nargs="?", default="ganzoo", type=Path)
    parser.add_argument("--top", type=int, default=5)
    args = parser.parse_args(argv)
    modules, classes = sizes(args.root)
    over = False
    for title, rows, limit in (("modules", modules, MAX_MODULE_LINES), ("classes", classes, MAX_CLASS_LINES)):
        print(f"longest {title} (limit about {limit} lines)")
        for lines, name in rows[: args.top]:
            print(f"  {lines:5d}  {name}{'  OVER' if lines > limit else ''}")
        over |= any(lines > limit for lines, _ in rows)
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
