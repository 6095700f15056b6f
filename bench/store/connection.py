"""Connections to ``bench.duckdb``: the writers' lock, read-only readers, and retries while another process holds it.

DuckDB lets one process write a database file at a time. Our writers take a ``filelock`` on a lock file beside the
database for each short transaction, so two runs (or two shards) sharing a results directory queue for a few
milliseconds per generation instead of failing. Readers open the database read-only and take no lock, so a
read-only results directory can be read. A process outside the harness (the duckdb CLI, a notebook) holding the file
open makes DuckDB refuse us: every open is retried with backoff for a bounded time, then fails with
:class:`DatabaseBusyError`.
"""

from __future__ import annotations

import contextlib
import os
import random
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import duckdb
import filelock

from bench.safe_io import check_plain_file
from bench.store import schema
from bench.store.errors import DatabaseBusyError, StoreError
from bench.store.layout import DATABASE, Layout

T = TypeVar("T")

# How long an open waits for a database that another process holds (seconds; BENCH_DB_WAIT overrides), and how
# long a writer waits for another bench process's lock (BENCH_LOCK_TIMEOUT).
DEFAULT_DB_WAIT = 60.0
DEFAULT_LOCK_TIMEOUT = 600.0


def _seconds(variable: str, default: float) -> float:
    try:
        return max(0.0, float(os.environ.get(variable, default)))
    except ValueError:
        return default


def _is_lock_conflict(error: duckdb.Error) -> bool:
    # DuckDB reports another process's lock as an IOException ("Could not set lock on file ... Conflicting lock").
    return isinstance(error, duckdb.IOException) and "lock" in str(error).lower()


def _first_line(error: BaseException) -> str:
    return str(error).strip().partition("\n")[0]


class Database:
    """One results directory's ``bench.duckdb``: short-lived connections, for writing under the lock or reading."""

    def __init__(self, layout: Layout) -> None:
        self.path = layout.database
        self.lock_path = layout.lock_path
        self.root = layout.root
        self._plain_files = (layout.database, layout.wal_path)

    def exists(self) -> bool:
        return self.path.exists()

    def retry_busy(self, action: Callable[[], T]) -> T:
        """Run ``action``, retrying with backoff while another process holds a database; bounded by BENCH_DB_WAIT."""
        wait = _seconds("BENCH_DB_WAIT", DEFAULT_DB_WAIT)
        deadline = time.monotonic() + wait
        delay = 0.05
        jitter = random.Random(os.getpid())  # noqa: S311 - backoff jitter, not a result
        while True:
            try:
                return action()
            except duckdb.Error as error:
                if not _is_lock_conflict(error):
                    raise StoreError(f"{self.path}: not a readable results database ({error})") from None
                if time.monotonic() >= deadline:
                    raise DatabaseBusyError(
                        f"{self.path}: another process holds bench.duckdb open (waited {wait:.0f} s); close "
                        "that connection (a duckdb shell or notebook) and rerun the same command"
                    ) from None
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())) * (0.5 + jitter.random()))
            delay = min(delay * 2, 2.0)

    def _open(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        return self.retry_busy(lambda: duckdb.connect(str(self.path), read_only=read_only))

    @contextlib.contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A short-lived connection. Writers hold the directory's lock (our processes queue) and bring the schema up
        to date; readers open the database read-only and take no lock, so they work on a read-only directory."""
        if read_only:
            if not self.path.exists():
                raise StoreError(f"{self.root}: no results database ({DATABASE}); run a suite first")
            con = self._open(read_only=True)
            try:
                yield con
            except duckdb.Error as error:  # a damaged file fails on the first read, not at open: one line
                raise StoreError(f"{self.path}: not a readable results database ({_first_line(error)})") from None
            finally:
                con.close()
            return
        self.root.mkdir(parents=True, exist_ok=True)
        with self.writer_lock():
            for path in self._plain_files:
                check_plain_file(path)  # a writer never writes through a link planted at the database or its log
            con = self._open(read_only=False)
            try:
                schema.bring_up_to_date(con)
                yield con
            except duckdb.IOException as error:  # a damaged file or a full disk: one line, not a traceback
                raise StoreError(f"{self.path}: cannot be written ({_first_line(error)})") from None
            finally:
                con.close()

    @contextlib.contextmanager
    def writer_lock(self) -> Iterator[None]:
        """The lock between our own writing processes (``filelock``: ``flock`` on a file beside the database)."""
        timeout = _seconds("BENCH_LOCK_TIMEOUT", DEFAULT_LOCK_TIMEOUT)
        # filelock opens the lock file with O_TRUNC: through a planted link it would empty the link's target.
        check_plain_file(self.lock_path)
        lock = filelock.FileLock(self.lock_path, timeout=timeout)
        try:
            with lock:
                yield
        except filelock.Timeout:
            raise DatabaseBusyError(
                f"{self.lock_path}: another bench process has held the lock for {timeout:.0f} s; wait for it "
                "(or raise BENCH_LOCK_TIMEOUT) and rerun the same command"
            ) from None

    def tables(self) -> set[str]:
        """The tables of the main schema (read-only; a damaged file is a :class:`StoreError`)."""
        with self.connect(read_only=True) as con:
            try:
                return schema.table_names(con)
            except duckdb.Error as error:
                raise StoreError(f"{self.path}: not a readable results database ({error})") from None

    def columns(self) -> dict[str, dict[str, str]]:
        """``{table: {column: type}}`` of the main schema (read-only)."""
        with self.connect(read_only=True) as con:
            try:
                return schema.column_types(con)
            except duckdb.Error as error:
                raise StoreError(f"{self.path}: not a readable results database ({error})") from None
