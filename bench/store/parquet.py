"""The Parquet artifacts of a generation (data set, samples, selection): written atomically, read as columns."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from bench.store.layout import staging_prefix


def write_parquet(path: Path, columns: dict[str, Sequence]) -> None:
    """Write atomically: a crash never leaves a half-written file under the final name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.table({name: list(values) for name, values in columns.items()})
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=staging_prefix(path.name), suffix=".tmp")
    os.close(fd)
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def read_parquet(path: Path) -> dict[str, list]:
    return pq.read_table(path).to_pydict()
