"""Silencing a native library's own writes to stderr (file descriptor 2) for the length of one call.

faiss's k-means (which MAUVE runs) prints ``WARNING clustering N points to K centroids`` with C ``fprintf`` whenever
there are fewer than 39 points a centroid, which every small run has; Python's ``logging`` and warnings filters never
see it, so a successful run would end with lines on stderr. Only descriptor 2 is redirected, and only for the call.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no descriptor 2 (embedded interpreters): nothing to silence
        yield
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 2)
        finally:
            os.close(devnull)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
