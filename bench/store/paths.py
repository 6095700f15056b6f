"""Directory arguments (``--results``, ``--into``, merge sources) checked before any store touches them.

A path below a regular file, a dangling symlink or a symlink loop would otherwise surface as an OSError traceback
from deep inside the store; here it is one line naming the option and the problem.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path


def directory_problem(path: str | Path) -> str | None:
    """Why ``path`` cannot serve as a directory (existing or to be created), or ``None`` when it can."""
    path = Path(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return _missing_problem(path)
    except NotADirectoryError:
        return "lies below a file that is not a directory"
    except OSError as error:
        if error.errno == errno.ELOOP:
            return "is a symlink loop"
        return f"cannot be accessed: {error.strerror or error}"
    if not stat.S_ISDIR(info.st_mode):
        return "exists and is not a directory"
    return None


def _missing_problem(path: Path) -> str | None:
    """For a path that does not exist: the first existing component must be a directory, and no link dangles."""
    for candidate in (path, *Path(os.path.abspath(path)).parents):
        if not os.path.lexists(candidate):
            continue
        if os.path.islink(candidate) and not os.path.exists(candidate):
            return "is a dangling symlink" if candidate == path else f"lies below a dangling symlink ({candidate})"
        if not os.path.isdir(candidate):
            return f"lies below {candidate}, which is not a directory"
        return None
    return None
