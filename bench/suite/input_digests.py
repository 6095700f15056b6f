"""SHA-256 digests of the files a suite reads besides itself: the text task's corpus and the model folder.

Suite settings name these inputs by path; the digests make their contents part of the run's fingerprint (so the run
id) and of the generation-0 cache key. A corpus edited or a model folder swapped after some generations therefore
never mixes into the old run: the runner finds the old run of the suite with other digests and refuses, naming the
changed file (``bench.run.session.check_settings``). A model folder's inputs are its regular files (config, weights,
tokenizer files; what ``from_pretrained`` reads lies at its top level).

Hashing a large weights file takes a while, so digests are cached per process by (path, size, mtime, inode).
"""

from __future__ import annotations

import functools
import hashlib
import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any

FILE_PARAMS = ("corpus",)  # task parameters that name an input file
FOLDER_PARAMS = ("tokenizer",)  # task parameters that name an input folder


@functools.lru_cache(maxsize=256)
def _digest(path: str, size: int, mtime_ns: int, inode: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_digest(path: str | Path) -> str:
    info = os.stat(path)
    return _digest(os.path.realpath(path), info.st_size, info.st_mtime_ns, info.st_ino)


def _folder_files(folder: Path) -> list[Path]:
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return []
    return [p for p in entries if not p.name.startswith(".") and stat.S_ISREG(_mode(p))]


def _mode(path: Path) -> int:
    try:
        return os.stat(path).st_mode
    except OSError:
        return 0


def input_paths(task_params: dict[str, Any], model: Any) -> list[Path]:
    """The input files of one scenario: named files and every regular file of named folders."""
    paths: list[Path] = []
    for key in FILE_PARAMS:
        value = task_params.get(key)
        if isinstance(value, str) and stat.S_ISREG(_mode(Path(value))):
            paths.append(Path(value))
    folders = [task_params.get(key) for key in FOLDER_PARAMS] + [getattr(model, "pretrained", None)]
    for folder in dict.fromkeys(f for f in folders if isinstance(f, str)):
        paths.extend(_folder_files(Path(folder)))
    return paths


def digests(paths: Iterable[Path]) -> dict[str, str]:
    """``{path as named: sha256}``; empty when the suite reads no input files."""
    return {str(path): file_digest(path) for path in dict.fromkeys(paths)}
