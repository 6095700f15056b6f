"""One sample a line: lines end at ``\\n`` only (a ``\\r`` before it is dropped), never at other separators.

``str.splitlines`` also breaks at ``\\v``, ``\\f``, ``\\x1c``-``\\x1e``, ``\\x85``, ``\\u2028`` and ``\\u2029``, and
Python's text files at a lone ``\\r``; a sample holding one of them would become several records. Every reader of
samples goes through here instead. Lines are decoded one at a time, so a stream is answered as it arrives and a
bad byte is reported with its line number.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

MAX_LINE_BYTES = 1_000_000
"""A longer line is refused: no task's sample comes near it (the longest is a few hundred bytes)."""


class LineError(ValueError):
    """A line that cannot be read: not UTF-8, or longer than ``MAX_LINE_BYTES``; the message names the line."""


def split_lines(text: str) -> list[str]:
    """``text`` split at ``\\n`` only, ``\\r\\n`` handled; a final newline does not start another line."""
    if not text:
        return []
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def iter_lines(stream: BinaryIO, source: str, max_bytes: int = MAX_LINE_BYTES) -> Iterator[str]:
    """The decoded lines of a binary stream, one per ``\\n``, each as soon as it is complete."""
    number = 0
    while True:
        raw = stream.readline(max_bytes + 1)
        if not raw:
            return
        number += 1
        if len(raw) > max_bytes and not raw.endswith(b"\n"):
            raise LineError(f"{source}: line {number} is longer than {max_bytes:,} bytes")
        if raw.endswith(b"\n"):
            raw = raw[:-1]
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise LineError(f"{source}: line {number} is not UTF-8 text (byte {error.start + 1})") from None
