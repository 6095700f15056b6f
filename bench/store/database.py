"""The results store: one DuckDB file plus Parquet artifacts under a results directory.

This is the only module that imports duckdb, and the only one that knows the results layout::

    RESULTS/bench.duckdb                                   runs, metrics, drops, generations
    RESULTS/results-RUN.json                               the run's summary (bench.analysis.results_json)
    RESULTS/artifacts/RUN/SCENARIO/seed-S/gen-GGG/         data.parquet, samples.parquet, selected.parquet, model/
    RESULTS/cache/gen0-KEY/                                generation 0's fitted learner, shared by scenarios

DuckDB lets one process write a database file at a time. Our writers take a ``filelock`` on a lock file beside the
database for each short transaction, so two runs (or two shards) sharing a results directory queue for a few
milliseconds per generation instead of failing. Readers open the database read-only and take no lock, so a
read-only results directory can be read. A process outside the harness (the duckdb CLI, a notebook) holding the file
open makes DuckDB refuse us: every open is retried with backoff for a bounded time, then fails with
:class:`DatabaseBusyError`.

A generation is finished exactly when its row is in ``generations``; its metrics are written in the same
transaction, so a crash leaves either the whole generation or none of it, and a rerun redoes only what is missing.
The row also records the SHA-256 of every artifact the generation wrote (``artifacts``), so a resume can tell a
missing, damaged or replaced input from the one the numbers came from.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import random
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import duckdb
import filelock
import pyarrow as pa
import pyarrow.parquet as pq

from bench.records import GenerationRecord, MetricRow
from bench.safe_io import check_plain_file

T = TypeVar("T")

DATABASE = "bench.duckdb"
SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY,
    suite VARCHAR NOT NULL,
    suite_path VARCHAR,
    suite_hash VARCHAR,
    config JSON NOT NULL,
    baseline VARCHAR,
    git_commit VARCHAR,
    packages JSON,
    device VARCHAR,
    started_at TIMESTAMP,
    finished_at TIMESTAMP,
    status VARCHAR NOT NULL,
    git_dirty BOOLEAN,
    git_diff_sha256 VARCHAR
);
CREATE TABLE IF NOT EXISTS metrics (
    run_id VARCHAR NOT NULL,
    suite VARCHAR NOT NULL,
    scenario VARCHAR NOT NULL,
    seed BIGINT NOT NULL,
    generation INTEGER NOT NULL,
    metric VARCHAR NOT NULL,
    value DOUBLE,
    higher_is_better BOOLEAN,
    PRIMARY KEY (run_id, scenario, seed, generation, metric)
);
CREATE TABLE IF NOT EXISTS drops (
    run_id VARCHAR NOT NULL,
    scenario VARCHAR NOT NULL,
    seed BIGINT NOT NULL,
    generation INTEGER NOT NULL,
    reason VARCHAR NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (run_id, scenario, seed, generation, reason)
);
CREATE TABLE IF NOT EXISTS generations (
    run_id VARCHAR NOT NULL,
    scenario VARCHAR NOT NULL,
    seed BIGINT NOT NULL,
    generation INTEGER NOT NULL,
    samples_path VARCHAR NOT NULL,
    data_path VARCHAR NOT NULL,
    checkpoint_path VARCHAR,
    train_iterations INTEGER,
    best_val_loss DOUBLE,
    train_seconds DOUBLE,
    sample_seconds DOUBLE,
    useful_tokens_per_second DOUBLE,
    finished_at TIMESTAMP NOT NULL,
    artifacts JSON,
    PRIMARY KEY (run_id, scenario, seed, generation)
);
CREATE TABLE IF NOT EXISTS failures (
    run_id VARCHAR NOT NULL,
    scenario VARCHAR NOT NULL,
    seed BIGINT NOT NULL,
    generation INTEGER NOT NULL,
    error VARCHAR NOT NULL,
    failed_at TIMESTAMP NOT NULL,
    PRIMARY KEY (run_id, scenario, seed)
);
"""
# Databases written before a column existed gain it (NULL: unknown) when a writer opens them: ``artifacts`` (digests),
# ``git_dirty`` and ``git_diff_sha256`` (provenance; bench/run/provenance.py).
MIGRATIONS = """ALTER TABLE generations ADD COLUMN IF NOT EXISTS artifacts JSON;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS git_dirty BOOLEAN;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS git_diff_sha256 VARCHAR;"""
TABLES = ("runs", "metrics", "drops", "generations", "failures")
OPTIONAL_COLUMNS = {("generations", "artifacts")}  # older databases lack it (MIGRATIONS adds it)

# How long an open waits for a database that another process holds (seconds; BENCH_DB_WAIT overrides), and how
# long a writer waits for another bench process's lock (BENCH_LOCK_TIMEOUT).
DEFAULT_DB_WAIT = 60.0
DEFAULT_LOCK_TIMEOUT = 600.0


METRIC_COLUMNS = (
    ("run_id", pa.string()),
    ("suite", pa.string()),
    ("scenario", pa.string()),
    ("seed", pa.int64()),
    ("generation", pa.int32()),
    ("metric", pa.string()),
    ("value", pa.float64()),
    ("higher_is_better", pa.bool_()),
)
DROP_COLUMNS = (
    ("run_id", pa.string()),
    ("scenario", pa.string()),
    ("seed", pa.int64()),
    ("generation", pa.int32()),
    ("reason", pa.string()),
    ("count", pa.int64()),
)
GENERATION_COLUMNS = (
    ("run_id", pa.string()),
    ("scenario", pa.string()),
    ("seed", pa.int64()),
    ("generation", pa.int32()),
    ("samples_path", pa.string()),
    ("data_path", pa.string()),
    ("checkpoint_path", pa.string()),
    ("train_iterations", pa.int32()),
    ("best_val_loss", pa.float64()),
    ("train_seconds", pa.float64()),
    ("sample_seconds", pa.float64()),
    ("useful_tokens_per_second", pa.float64()),
    ("finished_at", pa.timestamp("us")),
    ("artifacts", pa.string()),
)


def _arrow(rows: list[tuple], columns: tuple[tuple[str, pa.DataType], ...]) -> pa.Table:
    """Rows as an Arrow table with the database's column types (so an empty batch still has a schema)."""
    return pa.table({name: pa.array([row[i] for row in rows], type=kind) for i, (name, kind) in enumerate(columns)})


class StoreError(RuntimeError):
    """A results directory or database that cannot be used."""


class DatabaseBusyError(StoreError):
    """Another process holds ``bench.duckdb`` open (or our own lock) for longer than we wait."""


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _seconds(variable: str, default: float) -> float:
    try:
        return max(0.0, float(os.environ.get(variable, default)))
    except ValueError:
        return default


def _is_lock_conflict(error: duckdb.Error) -> bool:
    # DuckDB reports another process's lock as an IOException ("Could not set lock on file ... Conflicting lock").
    return isinstance(error, duckdb.IOException) and "lock" in str(error).lower()


def _tables(con: duckdb.DuckDBPyConnection, schema: str = "main", catalog: str | None = None) -> set[str]:
    query = "SELECT table_name FROM information_schema.tables WHERE table_schema = ?"
    params: list[str] = [schema]
    if catalog is not None:
        query += " AND table_catalog = ?"
        params.append(catalog)
    return {row[0] for row in con.execute(query, params).fetchall()}


def _columns(con: duckdb.DuckDBPyConnection, catalog: str | None = None) -> dict[str, dict[str, str]]:
    """``{table: {column: type}}`` of the main schema (of ``catalog`` when given)."""
    query = "SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = 'main'"
    params: list[str] = []
    if catalog is not None:
        query += " AND table_catalog = ?"
        params.append(catalog)
    found: dict[str, dict[str, str]] = {}
    for table, column, kind in con.execute(query, params).fetchall():
        found.setdefault(table, {})[column] = kind
    return found


@functools.cache
def expected_columns() -> dict[str, dict[str, str]]:
    """The columns and types a results database of this version has (``SCHEMA`` in an in-memory database)."""
    with duckdb.connect(":memory:") as con:
        con.execute(SCHEMA)
        return _columns(con)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def staging_prefix(name: str) -> str:
    """Temporary names carry host and pid, so a later start can tell a dead process's leftovers from a live one's."""
    return f".{name}-{socket.gethostname()}-{os.getpid()}-"


class Store:
    """A results directory: ``bench.duckdb``, its lock, and the artifacts tree."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.database = self.root / DATABASE
        self.lock_path = self.root / (DATABASE + ".lock")

    # -- access -----------------------------------------------------------------------------------------------

    def exists(self) -> bool:
        return self.database.exists()

    def create(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        with self.connect() as con:
            con.execute(SCHEMA)

    def _open(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        return self.retry_busy(lambda: duckdb.connect(str(self.database), read_only=read_only))

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
                    raise StoreError(f"{self.database}: not a readable results database ({error})") from None
                if time.monotonic() >= deadline:
                    raise DatabaseBusyError(
                        f"{self.database}: another process holds bench.duckdb open (waited {wait:.0f} s); close "
                        "that connection (a duckdb shell or notebook) and rerun the same command"
                    ) from None
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())) * (0.5 + jitter.random()))
            delay = min(delay * 2, 2.0)

    @contextlib.contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A short-lived connection. Writers hold the directory's lock (our processes queue); readers open the
        database read-only and take no lock, so they work on a read-only directory."""
        if read_only:
            if not self.database.exists():
                raise StoreError(f"{self.root}: no results database ({DATABASE}); run a suite first")
            con = self._open(read_only=True)
            try:
                yield con
            except duckdb.Error as error:  # a damaged file fails on the first read, not at open: one line
                reason = str(error).strip().partition("\n")[0]
                raise StoreError(f"{self.database}: not a readable results database ({reason})") from None
            finally:
                con.close()
            return
        self.root.mkdir(parents=True, exist_ok=True)
        with self.writer_lock():
            for path in (self.database, self.database.with_name(DATABASE + ".wal")):
                check_plain_file(path)  # a writer never writes through a link planted at the database or its log
            con = self._open(read_only=False)
            try:
                con.execute(SCHEMA)
                con.execute(MIGRATIONS)
                yield con
            except duckdb.IOException as error:  # a damaged file or a full disk: one line, not a traceback
                reason = str(error).strip().partition("\n")[0]
                raise StoreError(f"{self.database}: cannot be written ({reason})") from None
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

    def check_readable(self) -> None:
        """Raise ``StoreError`` unless the database opens read-only and has the tables of a results database."""
        with self.connect(read_only=True) as con:
            try:
                present = _tables(con)
            except duckdb.Error as error:
                raise StoreError(f"{self.database}: not a readable results database ({error})") from None
        missing = [t for t in ("runs", "metrics", "drops", "generations") if t not in present]
        if missing:
            raise StoreError(f"{self.database}: not a results database (no table {missing[0]!r})")

    def check_mergeable(self) -> None:
        """Raise ``StoreError`` unless every table's columns are ones this version has, with the same types, and
        every column this version requires is there: what ``merge_from`` checks before it writes anything."""
        self.check_readable()
        with self.connect(read_only=True) as con:
            try:
                found = _columns(con)
            except duckdb.Error as error:
                raise StoreError(f"{self.database}: not a readable results database ({error})") from None
        for table, columns in expected_columns().items():
            present = found.get(table)
            if present is None:
                continue
            for column, kind in present.items():
                if column not in columns:
                    raise StoreError(f"{self.database}: table {table} has a column {column!r} bench does not write")
                if kind != columns[column]:
                    raise StoreError(
                        f"{self.database}: column {table}.{column} is {kind}, not {columns[column]} as bench writes it"
                    )
            absent = [c for c in columns if c not in present and (table, c) not in OPTIONAL_COLUMNS]
            if absent:
                raise StoreError(f"{self.database}: table {table} lacks the column {absent[0]!r}")

    # -- the artifacts layout ---------------------------------------------------------------------------------

    def generation_dir(self, run_id: str, scenario: str, seed: int, generation: int) -> Path:
        """Where one generation of one cell keeps its data set, samples, selection and checkpoint."""
        return self.root / "artifacts" / run_id / scenario / f"seed-{seed}" / f"gen-{generation:03d}"

    def relative(self, path: Path) -> str:
        """``path`` relative to the results directory, as the database records it (the directory can move)."""
        return str(path.relative_to(self.root))

    def results_json(self, run_id: str) -> Path:
        """The run's lm-eval style results JSON, beside the database (``bench.analysis.results_json``)."""
        return self.root / f"results-{run_id}.json"

    def generation_zero_dir(self, key: str) -> Path:
        """Generation 0's shared fitted learner for one (seed, settings) key."""
        return self.root / "cache" / f"gen0-{key}"

    def publish(self, target: Path, write: Callable[[Path], None]) -> None:
        """Write a folder with ``write(staging)`` and rename it to ``target`` atomically; the first writer wins.

        Two shards racing here both write the same deterministic content, and the loser's copy is dropped.
        """
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=staging_prefix(target.name)))
        try:
            write(staging)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        try:
            os.rename(staging, target)
        except OSError:  # another process published it first
            shutil.rmtree(staging, ignore_errors=True)

    # -- runs -------------------------------------------------------------------------------------------------

    def begin_run(
        self,
        run_id: str,
        suite: str,
        suite_path: str,
        suite_hash: str,
        config: dict,
        baseline: str,
        git_commit: str | None,
        packages: dict[str, str],
        device: str,
        git_dirty: bool | None = None,
        git_diff_sha256: str | None = None,
    ) -> None:
        """Record a run once; a resumed run keeps its first start time and provenance and is marked running again."""
        with self.connect() as con:
            con.execute(
                """INSERT INTO runs (run_id, suite, suite_path, suite_hash, config, baseline, git_commit, packages,
                                    device, started_at, finished_at, status, git_dirty, git_diff_sha256)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, 'running', ?, ?)
                   ON CONFLICT DO NOTHING""",
                [
                    run_id,
                    suite,
                    suite_path,
                    suite_hash,
                    json.dumps(config, sort_keys=True),
                    baseline,
                    git_commit,
                    json.dumps(packages, sort_keys=True),
                    device,
                    _now(),
                    git_dirty,
                    git_diff_sha256,
                ],
            )
            con.execute("UPDATE runs SET status = 'running' WHERE run_id = ? AND status != 'finished'", [run_id])
            if git_dirty:  # resumed from an edited checkout: the run's numbers are no longer all from a clean one
                con.execute(
                    "UPDATE runs SET git_dirty = TRUE, git_diff_sha256 = ? WHERE run_id = ?", [git_diff_sha256, run_id]
                )

    def finish_run(self, run_id: str, expected_generations: int) -> bool:
        """Mark the run finished when every cell has every generation (shards finish it together)."""
        with self.connect() as con:
            (done,) = con.execute("SELECT count(*) FROM generations WHERE run_id = ?", [run_id]).fetchone()
            if done < expected_generations:
                return False
            con.execute(
                "UPDATE runs SET status = 'finished', finished_at = coalesce(finished_at, ?) WHERE run_id = ?",
                [_now(), run_id],
            )
            return True

    # -- one finished generation ------------------------------------------------------------------------------

    def record_generations(self, records: Sequence[GenerationRecord]) -> None:
        """Several finished generations in one transaction (one lock, one connection): fast learners finish
        hundreds of generations a second, and a connection costs milliseconds. Rows go in as Arrow tables, which
        DuckDB inserts in bulk; ``ON CONFLICT DO NOTHING`` makes a repeat add nothing."""
        if not records:
            return
        metric_rows = [
            (r.run_id, r.suite, r.scenario, r.seed, r.generation, name, float(value), r.higher_is_better.get(name))
            for r in records
            for name, value in sorted(r.metrics.items())
        ]
        drop_rows = [
            (r.run_id, r.scenario, r.seed, r.generation, reason, int(count))
            for r in records
            for reason, count in sorted(r.drops.items())
        ]
        now = _now()
        generation_rows = [
            (
                r.run_id,
                r.scenario,
                r.seed,
                r.generation,
                r.samples_path,
                r.data_path,
                r.checkpoint_path,
                r.train_iterations,
                r.best_val_loss,
                r.train_seconds,
                r.sample_seconds,
                r.useful_tokens_per_second,
                now,
                json.dumps(r.artifacts, sort_keys=True),
            )
            for r in records
        ]
        with self.connect() as con:
            con.register("metrics_table", _arrow(metric_rows, METRIC_COLUMNS))
            con.register("drops_table", _arrow(drop_rows, DROP_COLUMNS))
            con.register("generations_table", _arrow(generation_rows, GENERATION_COLUMNS))
            con.execute("BEGIN TRANSACTION")
            try:
                con.execute("INSERT INTO metrics SELECT * FROM metrics_table ON CONFLICT DO NOTHING")
                if drop_rows:
                    con.execute("INSERT INTO drops SELECT * FROM drops_table ON CONFLICT DO NOTHING")
                con.execute("INSERT INTO generations BY NAME SELECT * FROM generations_table ON CONFLICT DO NOTHING")
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise

    def finished_cells(self, run_id: str) -> dict[tuple[str, int], set[int]]:
        """Every finished generation of a run, by (scenario, seed): one read for a whole suite's resume."""
        return {cell: set(rows) for cell, rows in self.generation_records(run_id).items()}

    def generation_records(self, run_id: str) -> dict[tuple[str, int], dict[int, dict[str, str] | None]]:
        """Each finished generation of a run with its artifact digests (``None``: recorded before digests)."""
        if not self.database.exists():
            return {}
        with self.connect(read_only=True) as con:
            if "generations" not in _tables(con):
                return {}
            columns = {
                r[0]
                for r in con.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = 'generations'"
                ).fetchall()
            }
            digests = "artifacts" if "artifacts" in columns else "NULL"
            rows = con.execute(
                f"SELECT scenario, seed, generation, {digests} FROM generations WHERE run_id = ?",  # noqa: S608
                [run_id],
            ).fetchall()
        done: dict[tuple[str, int], dict[int, dict[str, str] | None]] = {}
        for scenario, seed, generation, artifacts in rows:
            done.setdefault((scenario, seed), {})[generation] = None if artifacts is None else json.loads(artifacts)
        return done

    def invalidate(self, run_id: str, scenario: str, seed: int, first: int) -> None:
        """Mark generation ``first`` and every later one of a cell unfinished: rows go, artifacts folders go."""
        with self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            for table in ("metrics", "drops", "generations"):
                con.execute(
                    f"DELETE FROM {table} WHERE run_id = ? AND scenario = ? AND seed = ? AND generation >= ?",  # noqa: S608
                    [run_id, scenario, seed, first],
                )
            con.execute("UPDATE runs SET status = 'running', finished_at = NULL WHERE run_id = ?", [run_id])
            con.execute("COMMIT")
        cell_dir = self.generation_dir(run_id, scenario, seed, 0).parent
        if cell_dir.is_dir():
            for folder in sorted(cell_dir.glob("gen-*")):
                if folder.name[4:].isdigit() and int(folder.name[4:]) >= first:
                    shutil.rmtree(folder, ignore_errors=True)

    # -- failed cells -----------------------------------------------------------------------------------------

    def record_failure(self, run_id: str, scenario: str, seed: int, generation: int, error: str) -> None:
        """A cell that failed at run time: the newest error per cell (a rerun retries it)."""
        with self.connect() as con:
            con.execute(
                "INSERT OR REPLACE INTO failures VALUES (?, ?, ?, ?, ?, ?)",
                [run_id, scenario, seed, generation, error, _now()],
            )
            con.execute("UPDATE runs SET status = 'failed' WHERE run_id = ? AND status != 'finished'", [run_id])

    def clear_failure(self, run_id: str, scenario: str, seed: int) -> None:
        with self.connect() as con:
            con.execute("DELETE FROM failures WHERE run_id = ? AND scenario = ? AND seed = ?", [run_id, scenario, seed])

    def failures(self, run_id: str) -> list[tuple[str, int, int, str]]:
        """(scenario, seed, generation, error) of every failed cell of a run, oldest databases included."""
        if not self.database.exists():
            return []
        with self.connect(read_only=True) as con:
            if "failures" not in _tables(con):
                return []
            return con.execute(
                "SELECT scenario, seed, generation, error FROM failures WHERE run_id = ? ORDER BY scenario, seed",
                [run_id],
            ).fetchall()

    # -- reading ----------------------------------------------------------------------------------------------

    def runs(self) -> list[dict]:
        with self.connect(read_only=True) as con:
            if "runs" not in _tables(con):  # a database some other process created, not yet written by a run
                return []
            cursor = con.execute("SELECT * FROM runs ORDER BY started_at")
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def choose_run(self, suite: str | None = None) -> dict | None:
        """The newest run (of ``suite``, if given) with finished generations: a crashed or failed newer run in a
        shared directory must not hide the good one from the leaderboard, the report or the gate."""
        with self.connect(read_only=True) as con:
            row = con.execute(
                """SELECT run_id FROM runs r
                   WHERE (? IS NULL OR suite = ?) AND EXISTS (SELECT 1 FROM generations g WHERE g.run_id = r.run_id)
                   ORDER BY started_at DESC LIMIT 1""",
                [suite, suite],
            ).fetchone()
        if row is None:
            return None
        return next(run for run in self.runs() if run["run_id"] == row[0])

    def generation_counts(self) -> dict[str, dict[tuple[str, int], int]]:
        """Finished generations of every run, by (scenario, seed): what ``bench runs`` counts."""
        with self.connect(read_only=True) as con:
            if "generations" not in _tables(con):
                return {}
            rows = con.execute(
                "SELECT run_id, scenario, seed, count(*) FROM generations GROUP BY run_id, scenario, seed"
            ).fetchall()
        counts: dict[str, dict[tuple[str, int], int]] = {}
        for run_id, scenario, seed, n in rows:
            counts.setdefault(run_id, {})[(scenario, seed)] = n
        return counts

    def metric_rows(self, run_id: str) -> list[MetricRow]:
        with self.connect(read_only=True) as con:
            rows = con.execute(
                """SELECT run_id, suite, scenario, seed, generation, metric, value, higher_is_better
                   FROM metrics WHERE run_id = ? ORDER BY scenario, seed, generation, metric""",
                [run_id],
            ).fetchall()
        return [MetricRow(*row) for row in rows]

    def count_rows(self) -> dict[str, int]:
        with self.connect(read_only=True) as con:
            return {
                table: con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608 - fixed names
                for table in ("runs", "metrics", "drops", "generations")
            }

    def table(self, name: str) -> list[tuple]:
        if name not in ("runs", "metrics", "drops", "generations"):
            raise StoreError(f"unknown table {name!r}")
        with self.connect(read_only=True) as con:
            order = {"runs": "run_id", "metrics": "run_id, scenario, seed, generation, metric"}.get(
                name, "run_id, scenario, seed, generation"
            )
            return con.execute(f"SELECT * FROM {name} ORDER BY {order}").fetchall()  # noqa: S608 - fixed names

    # -- leftovers --------------------------------------------------------------------------------------------

    def leftovers(self) -> list[Path]:
        """Temporary files and staging folders of interrupted processes: ``*.tmp`` under ``artifacts/`` and
        ``cache/.gen0-*``. Those named by a live process on this host are left alone (a shard may be writing)."""
        found: list[Path] = []
        for folder in ("artifacts", "cache"):
            base = self.root / folder
            if not base.is_dir():
                continue
            for directory, subdirs, files in os.walk(base):
                here = Path(directory)
                for name in [*files, *subdirs]:
                    if (name.endswith(".tmp") or name.startswith(".gen0-")) and not _owned_by_live_process(name):
                        found.append(here / name)
                subdirs[:] = [d for d in subdirs if not d.startswith(".gen0-")]
        return sorted(found)

    def remove_leftovers(self) -> list[Path]:
        removed = self.leftovers()
        for path in removed:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        return removed

    # -- merging ----------------------------------------------------------------------------------------------

    def merge_from(self, other: Store) -> dict[str, int]:
        """Copy another results directory's rows and artifacts in; rows already here are kept, not duplicated.

        The source is checked before anything is created here, read without a lock (it may be read-only), and
        symbolic links inside its ``artifacts/`` are never followed or copied."""
        if not other.database.exists():
            raise StoreError(f"{other.root}: no results database ({DATABASE})")
        if other.root.resolve() == self.root.resolve():
            raise StoreError(f"{other.root}: cannot merge a results directory into itself")
        other.check_mergeable()  # columns and types first: a bad source leaves the target as it was
        copies = _copy_plan(other.root / "artifacts", self.root / "artifacts")
        created = not self.database.exists()
        root_created = not self.root.exists()
        self.create()
        before = self.count_rows()
        source_path = str(other.database.resolve()).replace("'", "''")
        try:
            with self.connect() as con:
                other.retry_busy(lambda: con.execute(f"ATTACH '{source_path}' AS source (READ_ONLY)"))
                try:
                    present = _tables(con, catalog="source")
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
                    raise StoreError(f"{other.database}: cannot be merged ({reason}); nothing was copied") from None
                finally:
                    con.execute("DETACH source")
        except StoreError:
            if created:  # the database this merge created holds nothing: it goes, with its lock file
                for path in (self.database, self.lock_path, self.database.with_name(DATABASE + ".wal")):
                    if path.is_file() and not path.is_symlink():
                        path.unlink()
                if root_created:
                    with contextlib.suppress(OSError):
                        self.root.rmdir()
            raise
        for source, destination in copies:
            destination.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=destination.parent, prefix=staging_prefix(destination.name), suffix=".tmp")
            os.close(fd)
            shutil.copyfile(source, tmp, follow_symlinks=False)
            os.replace(tmp, destination)  # a link planted at the destination is replaced, never written through
        after = self.count_rows()
        return {table: after[table] - before[table] for table in after}


def _owned_by_live_process(name: str) -> bool:
    """Whether a temporary name made by :func:`staging_prefix` belongs to a process still running on this host."""
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


def _copy_plan(source: Path, target: Path) -> list[tuple[Path, Path]]:
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


# -- Parquet artifacts ----------------------------------------------------------------------------------------


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
