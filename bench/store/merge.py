"""``bench merge``: copy another results directory's rows and artifacts into this one.

The source is checked before anything is created here, read without a lock (it may be read-only), and symbolic
links inside its ``artifacts/`` are never followed or copied. Rows go in ``BY NAME`` (older sources without the
newer columns merge too) in one transaction; a row already here is kept, not duplicated.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import duckdb

from bench.store import rows
from bench.store.errors import StoreError
from bench.store.layout import DATABASE, staging_prefix
from bench.store.schema import TABLES, table_names

if TYPE_CHECKING:
    from bench.store.connection import Database


class Store(Protocol):
    """What a merge reads of the two stores (``bench.store.database.Store`` is one): its layout and its database.

    A protocol, not an import, so that the store's modules stay a one-way chain under ``database``."""

    root: Path
    database: Path
    lock_path: Path
    wal_path: Path
    db: Database

    def create(self) -> None: ...

    def check_mergeable(self) -> None: ...


def copy_plan(source: Path, target: Path) -> list[tuple[Path, Path]]:
    """The regular files of ``source`` and where they go in ``target``; symbolic links (to files or folders) are
    skipped. A folder or a non-file where a file goes (or a file where a folder goes) refuses before any copy."""
    if not source.is_dir() or source.is_symlink():
        return []
    plan = []
    for directory, subdirs, files in os.walk(source, followlinks=False):
        here = Path(directory)
        subdirs[:] = [d for d in subdirs if not (here / d).is_symlink()]
        destination = target / here.relative_to(source)
        if os.path.lexists(destination) and not destination.is_dir():
            raise StoreError(f"{destination}: is not a folder, and the merge would copy {here} there")
        for name in files:
            path = here / name
            if path.is_symlink() or not path.is_file():
                continue
            if os.path.lexists(destination / name) and not (destination / name).is_file():
                raise StoreError(f"{destination / name}: is not a regular file, and the merge would copy a file there")
            plan.append((path, destination / name))
    return plan


def _copy_rows(target: Store, source: Store) -> None:
    """Every table of ``source`` into ``target`` in one transaction; a database error rolls all of it back."""
    source_path = str(source.database.resolve()).replace("'", "''")
    with target.db.connect() as con:
        source.db.retry_busy(lambda: con.execute(f"ATTACH '{source_path}' AS source (READ_ONLY)"))
        try:
            present = table_names(con, catalog="source")
            con.execute("BEGIN TRANSACTION")  # all tables or none
            for table in TABLES:
                if table in present:
                    con.execute(
                        f"INSERT INTO {table} BY NAME SELECT * FROM source.{table} ON CONFLICT DO NOTHING"  # noqa: S608
                    )
            con.execute("COMMIT")
        except duckdb.Error as error:
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK")
            reason = str(error).strip().partition("\n")[0]
            raise StoreError(f"{source.database}: cannot be merged ({reason}); nothing was copied") from None
        finally:
            con.execute("DETACH source")


def _copy_files(copies: list[tuple[Path, Path]]) -> None:
    for source, destination in copies:
        destination.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=destination.parent, prefix=staging_prefix(destination.name), suffix=".tmp")
        os.close(fd)
        shutil.copyfile(source, tmp, follow_symlinks=False)
        os.replace(tmp, destination)  # a link planted at the destination is replaced, never written through


def merge(target: Store, source: Store) -> dict[str, int]:
    """Copy ``source`` into ``target``; returns the rows added per table."""
    if not source.database.exists():
        raise StoreError(f"{source.root}: no results database ({DATABASE})")
    if source.root.resolve() == target.root.resolve():
        raise StoreError(f"{source.root}: cannot merge a results directory into itself")
    source.check_mergeable()  # columns and types first: a bad source leaves the target as it was
    copies = copy_plan(source.root / "artifacts", target.root / "artifacts")
    created = not target.database.exists()
    root_created = not target.root.exists()
    target.create()
    before = rows.count_rows(target.db)
    try:
        _copy_rows(target, source)
    except StoreError:
        if created:  # the database this merge created holds nothing: it goes, with its lock file
            for path in (target.database, target.lock_path, target.wal_path):
                if path.is_file() and not path.is_symlink():
                    path.unlink()
            if root_created:
                with contextlib.suppress(OSError):
                    target.root.rmdir()
        raise
    _copy_files(copies)
    after = rows.count_rows(target.db)
    return {table: after[table] - before[table] for table in after}
