"""What interrupted processes leave in a results directory: ``*.tmp`` files under ``artifacts/`` and staging
folders ``cache/.gen0-*``. Their names carry host and pid (:func:`bench.store.layout.staging_prefix`), so those of
a process still running on this host (a shard writing now) are told apart and left alone."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path


def owned_by_live_process(name: str) -> bool:
    """Whether a temporary name made by ``staging_prefix`` belongs to a process still running on this host."""
    host = socket.gethostname()
    marker = f"-{host}-"
    if marker not in name:
        return False
    pid_text = name.split(marker, 1)[1].split("-", 1)[0]
    if not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def find(root: Path) -> list[Path]:
    """Temporary files and staging folders of interrupted processes under ``root``, those of live ones excepted."""
    found: list[Path] = []
    for folder in ("artifacts", "cache"):
        base = root / folder
        if not base.is_dir():
            continue
        for directory, subdirs, files in os.walk(base):
            here = Path(directory)
            for name in [*files, *subdirs]:
                if (name.endswith(".tmp") or name.startswith(".gen0-")) and not owned_by_live_process(name):
                    found.append(here / name)
            subdirs[:] = [d for d in subdirs if not d.startswith(".gen0-")]
    return sorted(found)


def remove(paths: list[Path]) -> None:
    """Delete ``paths``: a folder with its content (links inside are not followed), a link itself, never its target."""
    for path in paths:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
