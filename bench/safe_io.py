"""Writing files without following planted links: every file the harness writes goes through here.

Two ways a file is written, both safe against a symbolic link (or a FIFO, or a folder) planted where the file
belongs, for instance by another user of a shared results directory:

- :func:`write_atomic` writes a temporary file beside the target and renames it into place, so a reader never sees
  half a file; a link at the target is refused before that (a rename would replace it, but the user's layout would
  silently change).
- :func:`append_text` opens with ``O_NOFOLLOW`` (the kernel refuses a link as the last component) and checks that
  what it opened is a regular file before writing.

:func:`check_plain_file` is for files a library opens itself (the ``filelock`` lock beside the database opens with
``O_TRUNC``: through a link it would empty the link's target). Each refusal is an :class:`UnsafePathError`, one
line naming the path.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path


class UnsafePathError(RuntimeError):
    """A link, folder or device where the harness writes a file: one line for the user (exit 2)."""


def check_plain_file(path: str | Path) -> None:
    """Refuse ``path`` unless it is missing or a regular file (not a link, folder, FIFO or device)."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    except NotADirectoryError:
        raise UnsafePathError(f"{path}: lies below a file that is not a folder") from None
    if stat.S_ISLNK(mode):
        raise UnsafePathError(f"{path}: is a symbolic link where bench writes a file; remove the link")
    if not stat.S_ISREG(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file"
        raise UnsafePathError(f"{path}: is {kind} where bench writes a file; remove it")


def write_atomic(path: str | Path, data: bytes | str, mode: int = 0o644) -> Path:
    """Write ``data`` to ``path`` through a temporary file renamed into place; a link or folder there refuses."""
    path = Path(path)
    check_plain_file(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
        os.chmod(tmp, mode)
        os.replace(tmp, path)  # rename(2) never writes through a link planted after the check: it replaces it
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise
    return path


def append_text(path: str | Path, text: str) -> None:
    """Append ``text`` to ``path`` (created if missing), never through a link and only to a regular file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.EISDIR, errno.ENXIO):
            check_plain_file(path)  # names what is there
        raise
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # a FIFO or device opened without blocking
            raise UnsafePathError(f"{path}: is not a regular file where bench writes a file; remove it")
        os.set_blocking(fd, True)
        with os.fdopen(fd, "a", encoding="utf-8", closefd=False) as handle:
            handle.write(text)
    finally:
        os.close(fd)
