"""Reading a suite file safely: a bounded read of a regular file, then YAML through PyYAML's safe machinery.

A suite is small, hand-written settings. Anything else that reaches the loader is refused before it can cost time
or memory: a FIFO (would block), ``/dev/zero`` (endless), a directory, more than ``MAX_SUITE_BYTES``, aliases and
anchors (they expand exponentially: ten levels of nine aliases are 10^9 nodes), nesting deeper than ``MAX_DEPTH``
(PyYAML's composer recurses per level), more than ``MAX_NODES`` nodes, duplicate keys (the last would silently win)
and several documents. The event scan comes first and never recurses, so a 10,000-deep nesting is one error line.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml

MAX_SUITE_BYTES = 1_000_000
"""A suite file may hold at most this many bytes (the largest shipped suite is about 3 KB)."""
MAX_DEPTH = 32
"""Nested mappings and lists, counting the top level (a suite needs about 6)."""
MAX_NODES = 50_000
"""YAML nodes (scalars, mappings, lists) in one suite (a large suite has a few hundred)."""


class SuiteFileError(ValueError):
    """A suite file that cannot be read or parsed; the message names the file and, where known, the line."""


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_suite_text(path: str | Path, limit: int = MAX_SUITE_BYTES) -> str:
    """The UTF-8 text of a regular file of at most ``limit`` bytes; ``SuiteFileError`` otherwise.

    Opened with ``O_NONBLOCK`` so that a FIFO cannot block the open, checked with ``fstat`` on the open descriptor
    (no race with a swapped path), and read with a bound, so a file growing after the check is still cut off.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise SuiteFileError(f"{path}: no such file") from None
    except OSError as error:
        raise SuiteFileError(f"{path}: cannot open: {error.strerror or error}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SuiteFileError(f"{path}: is {_kind(info.st_mode)}, not a suite file (a regular file is needed)")
        if info.st_size > limit:
            raise SuiteFileError(f"{path}: {info.st_size:,} bytes; a suite file may hold at most {limit:,} bytes")
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 16, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as error:
        raise SuiteFileError(f"{path}: cannot read: {error.strerror or error}") from None
    finally:
        os.close(fd)
    if size > limit:
        raise SuiteFileError(f"{path}: more than {limit:,} bytes; a suite file may hold at most {limit:,} bytes")
    data = b"".join(chunks)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise SuiteFileError(f"{path}: not UTF-8 text (line {line}, byte {error.start})") from None


def _at(mark: Any) -> str:
    return f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""


class _SuiteLoader(yaml.SafeLoader):
    """``SafeLoader`` that refuses duplicate keys (PyYAML keeps the last one silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    None, None, "a key must be a plain value, not a list or mapping", key_node.start_mark
                ) from None
            if duplicate:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _scan(text: str, source: str) -> None:
    """Refuse aliases, anchors, deep nesting and too many nodes from the event stream, before any composing."""
    depth = 0
    nodes = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent):
            raise SuiteFileError(
                f"{source}: YAML aliases (*{event.anchor}) are not allowed in a suite{_at(event.start_mark)}"
            )
        if isinstance(event, yaml.NodeEvent) and event.anchor is not None:
            raise SuiteFileError(
                f"{source}: YAML anchors (&{event.anchor}) are not allowed in a suite{_at(event.start_mark)}"
            )
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise SuiteFileError(
                    f"{source}: nested more than {MAX_DEPTH} levels deep{_at(event.start_mark)}; a suite needs few"
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
        if isinstance(event, yaml.NodeEvent):
            nodes += 1
            if nodes > MAX_NODES:
                raise SuiteFileError(f"{source}: more than {MAX_NODES:,} YAML nodes{_at(event.start_mark)}")


def parse_suite_yaml(text: str, source: str = "<suite>") -> Any:
    """The data of one YAML document, under the rules of the module docstring; ``SuiteFileError`` otherwise."""
    try:
        _scan(text, source)
        loader = _SuiteLoader(text)
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or str(error).split("\n")[0]
        raise SuiteFileError(f"{source}: invalid YAML{_at(mark)}: {problem}") from None


def load_suite_data(path: str | Path) -> Any:
    """Read and parse a suite file: ``read_suite_text`` then ``parse_suite_yaml``."""
    return parse_suite_yaml(read_suite_text(path), str(path))
