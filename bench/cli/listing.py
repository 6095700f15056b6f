"""``bench list KIND``: what exists, one line each (lm-eval's ``--tasks list``, ``inspect list``).

Tasks, learners, regimes, mitigations and metrics come from their registries, so entry-point plugins are listed
with the built-ins; suites are the YAML files of a folder, each with its ``description``.
"""

from __future__ import annotations

import argparse
import inspect
import os
import sys
from pathlib import Path
from typing import Any

from bench.cli.errors import BadInput
from bench.lines import split_lines

KINDS: tuple[str, ...] = ("tasks", "learners", "regimes", "mitigations", "metrics", "suites")


def register(sub: argparse._SubParsersAction) -> None:
    listing = sub.add_parser("list", help="what exists: tasks, learners, regimes, mitigations, metrics or suites")
    listing.add_argument("kind", choices=KINDS)
    listing.add_argument("--dir", default="suites", help="folder of suite files (for `list suites`)")
    listing.set_defaults(handler=cmd_list)


def cmd_list(args: argparse.Namespace) -> int:
    import shutil

    if args.kind == "suites":
        folder = Path(args.dir)
        if not folder.is_dir():
            raise BadInput(f"--dir {folder}: not a directory of suite files")
        entries = suite_entries(folder)
    else:
        from bench.registry import PluginError

        try:
            entries = registry_entries(args.kind)
        except PluginError as error:
            raise BadInput(str(error)) from None
    # Cut to the terminal's width (COLUMNS honoured); piped output keeps whole lines for grep.
    width = shutil.get_terminal_size().columns if sys.stdout.isatty() or "COLUMNS" in os.environ else 10_000
    print(format_entries(entries, width).rstrip("\n"))
    return 0


def _registry(kind: str):
    if kind == "tasks":
        from bench.tasks import TASKS

        return TASKS
    if kind == "learners":
        from bench.learners.base import LEARNERS

        return LEARNERS
    if kind == "regimes":
        from bench.regimes import REGIMES

        return REGIMES
    if kind == "mitigations":
        from bench.mitigations.base import MITIGATIONS

        return MITIGATIONS
    from bench.metrics import METRICS

    return METRICS


def first_line(obj: Any) -> str:
    """An item's one-line description: a ``description`` field (metrics) or its docstring's first line."""
    text = getattr(obj, "description", None)
    if not isinstance(text, str) or not text.strip():
        text = inspect.getdoc(obj) or ""
    lines = [line.strip() for line in split_lines(text.strip())]
    return lines[0] if lines else "(no description)"


def _direction(obj: Any) -> str:
    flag = getattr(obj, "higher_is_better", "absent")
    return {True: "higher is better", False: "lower is better", None: "descriptive"}.get(flag, "")


def registry_entries(kind: str) -> list[tuple[str, str]]:
    """(name, description) of every registered item of ``kind`` (not ``suites``), sorted by name."""
    entries = []
    for name, obj in _registry(kind).items():
        text = first_line(obj)
        if kind == "metrics" and (arrow := _direction(obj)):
            text = f"[{arrow}] {text}"
        entries.append((name, text))
    return entries


def suite_entries(folder: Path) -> list[tuple[str, str]]:
    """(file name, description) of every suite file in ``folder``; a file that does not parse says so."""
    from bench.suite.reader import SuiteFileError, load_suite_data

    entries = []
    for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
        if not path.is_file() or path.is_symlink():
            continue
        try:
            data = load_suite_data(path)
        except (SuiteFileError, OSError, ValueError) as error:
            entries.append((path.name, f"(unreadable: {error})"))
            continue
        description = data.get("description") if isinstance(data, dict) else None
        text = " ".join(description.split()) if isinstance(description, str) and description.strip() else ""
        entries.append((path.name, text or "(no description)"))
    return entries


def format_entries(entries: list[tuple[str, str]], width: int) -> str:
    """``name  description`` lines, names padded to one column, descriptions cut to ``width``."""
    if not entries:
        return ""
    column = max(len(name) for name, _ in entries) + 2
    lines = []
    for name, text in entries:
        room = max(width - column, 20)
        shown = text if len(text) <= room else text[: room - 1] + "…"
        lines.append(f"{name.ljust(column)}{shown}".rstrip())
    return "\n".join(lines) + "\n"
