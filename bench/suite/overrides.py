"""``--set PATH=VALUE``: change any field of a suite document before it is validated.

``PATH`` is dotted keys with ``[N]`` (a list position) or ``[NAME]`` (the list item whose ``name`` is NAME, as
scenarios and mitigations have), the same spelling as the settings-mismatch message:
``training.max_iters=100``, ``seeds=[0, 1]``, ``scenarios[replace].sampling.temperature=1.0``. ``VALUE`` is read
with the suite file's safe loader (``bench.suite.reader``) as a scalar or flow collection, so
``100`` is an int, ``[0]`` a list and ``null`` None.
Missing mappings on the way are created (``training.max_iters`` works in a file without ``training:``); whether
the result is a valid suite is then checked exactly as a file is, so a misspelt key or a bad value fails the same way.
Overrides change the resolved settings, so they change the run id.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from typing import Any

# "key", "key[3]", "key[name]" (names may hold dots, e.g. fixed_real_0.5, so brackets are matched first).
_SEGMENT = re.compile(r"([^.\[\]]+)|\[([^\[\]]+)\]|(\.)")


class OverrideError(ValueError):
    """A ``--set`` that cannot be applied; the message names it."""


def parse_path(path: str) -> list[str | int]:
    """``scenarios[replace].training.max_iters`` → ``["scenarios", "[replace]", "training", "max_iters"]``.

    List selectors keep their brackets (``"[replace]"``, or an ``int`` for ``[3]``), so a key can never be read as
    a selector.
    """
    parts: list[str | int] = []
    position = 0
    expect_key = True
    while position < len(path):
        match = _SEGMENT.match(path, position)
        if match is None:
            raise OverrideError(f"--set {path}: cannot read the field path at {path[position:]!r}")
        key, selector, dot = match.groups()
        if dot is not None:
            if expect_key:
                raise OverrideError(f"--set {path}: empty key in the field path")
            expect_key = True
        elif key is not None:
            if not expect_key:
                raise OverrideError(f"--set {path}: a '.' is missing before {key!r}")
            parts.append(key.strip())
            expect_key = False
        else:
            if not parts:
                raise OverrideError(f"--set {path}: the field path must start with a key")
            parts.append(int(selector) if selector.strip().isdigit() else f"[{selector.strip()}]")
            expect_key = False
        position = match.end()
    if not parts or expect_key:
        raise OverrideError(f"--set {path}: empty key in the field path")
    return parts


def parse_assignment(text: str) -> tuple[str, list[str | int], Any]:
    """``"training.max_iters=100"`` → ``("training.max_iters", ["training", "max_iters"], 100)``."""
    path, equals, raw = text.partition("=")
    path = path.strip()
    if not equals or not path:
        raise OverrideError(f"--set {text!r}: expected FIELD=VALUE, e.g. training.max_iters=100")
    from bench.suite.reader import SuiteFileError, parse_suite_yaml

    try:  # the suite file's loader: no aliases, bounded depth, no duplicate keys
        value = parse_suite_yaml(raw, f"--set {path}") if raw.strip() else None
    except SuiteFileError as error:
        problem = str(error).removeprefix(f"--set {path}: ")
        raise OverrideError(f"--set {path}: the value {raw!r} is not valid YAML: {problem}") from None
    return path, parse_path(path), value


def _child(node: Any, part: str | int, path: str) -> tuple[Any, str | int]:
    """The container ``part`` addresses inside ``node`` and the key or index to use there."""
    if isinstance(part, int) or part.startswith("["):
        if not isinstance(node, list):
            raise OverrideError(
                f"--set {path}: {part if isinstance(part, str) else f'[{part}]'} selects a list item, "
                f"but the field there is {type(node).__name__}"
            )
        if isinstance(part, int):
            if part >= len(node):
                raise OverrideError(f"--set {path}: index [{part}] is out of range (the list has {len(node)} items)")
            return node, part
        name = part[1:-1]
        for index, item in enumerate(node):
            if isinstance(item, dict) and item.get("name") == name:
                return node, index
        names = [str(item.get("name")) for item in node if isinstance(item, dict) and "name" in item]
        raise OverrideError(f"--set {path}: no item named {name!r} (names: {', '.join(names) or 'none'})")
    if not isinstance(node, dict):
        raise OverrideError(f"--set {path}: {part!r} is a key, but the field there is {type(node).__name__}")
    return node, part


def apply_overrides(data: Any, assignments: Sequence[str]) -> Any:
    """A copy of the suite document with every ``FIELD=VALUE`` applied in order (later ones win)."""
    if not assignments:
        return data
    if not isinstance(data, dict):
        return data  # not a suite document: validation says so, naming the file
    document = copy.deepcopy(data)
    for text in assignments:
        path, parts, value = parse_assignment(text)
        node: Any = document
        for position, part in enumerate(parts):
            container, key = _child(node, part, path)
            if position == len(parts) - 1:
                container[key] = value
            else:
                if isinstance(container, dict) and container.get(key) is None:
                    container[key] = {}  # a section the file leaves out (or null): create it
                node = container[key]
    return document
