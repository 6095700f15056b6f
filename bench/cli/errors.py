"""Bad input on the command line: the exception a command raises, printed by ``main`` as one line (exit 2)."""

from __future__ import annotations

import re

EXIT_BAD_INPUT = 2


class BadInput(Exception):
    """Input the user must fix; printed as one line, exit code 2."""


def one_line(message: object) -> str:
    """An error as one line: a library's multi-line message (Arrow, DuckDB, pydantic) joined with ' | '."""
    return " | ".join(part.strip() for part in re.split(r"[\r\n]+", str(message)) if part.strip())
