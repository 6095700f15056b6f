"""Build ``stdlib_docstrings.txt``: documentation strings of the Python standard library, one document a paragraph.

The standard library's source is on every Python install and is licensed under the PSF License Agreement
(https://docs.python.org/3/license.html), which permits copying and redistribution with its notice. The docstrings
are read with ``ast`` from the source files (nothing is imported or executed), in sorted file order, so the output
depends only on the Python version that runs this script. Each docstring becomes one document: its whitespace
collapsed to single spaces (so documents never contain blank lines), documents separated by one blank line.

Usage: ``python corpora/make_stdlib_docstrings.py [--max-bytes N] > corpora/stdlib_docstrings.txt``
"""

from __future__ import annotations

import argparse
import ast
import sys
import sysconfig
from pathlib import Path

MIN_CHARS = 200  # short docstrings ("Return self.") carry little text
SKIPPED_PARTS = {"test", "tests", "idle_test", "site-packages", "__pycache__", "lib2to3", "turtledemo"}


def docstrings(root: Path) -> list[str]:
    """Every module, class and function docstring of ``root``'s ``.py`` files, whitespace collapsed, deduplicated."""
    seen: set[str] = set()
    out: list[str] = []
    for path in sorted(root.rglob("*.py")):
        if SKIPPED_PARTS & set(path.relative_to(root).parts):
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                doc = ast.get_docstring(node)
                if doc is None:
                    continue
                text = " ".join(doc.split())
                if len(text) >= MIN_CHARS and text not in seen and text.isascii():
                    seen.add(text)
                    out.append(text)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-bytes", type=int, default=1_500_000, help="stop before the output exceeds this size")
    args = parser.parse_args()
    size = 0
    written = []
    for text in docstrings(Path(sysconfig.get_paths()["stdlib"])):
        cost = len(text) + 2
        if size + cost > args.max_bytes:
            break
        written.append(text)
        size += cost
    sys.stdout.write("\n\n".join(written) + "\n")


if __name__ == "__main__":
    main()
