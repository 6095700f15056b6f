"""The results store: one DuckDB file plus Parquet artifacts under a results directory.

This is the only module that imports duckdb, and the only one that knows the results layout::

    RESULTS/bench.duckdb                                   runs, metrics, drops, generations
    RESULTS/results-RUN.json                               the run's summary (bench.results_json)
    RESULTS/artifacts/RUN/SCENARIO/seed-S/gen-GGG/         data.parquet, samples.parquet, selected.parquet, model/
    RESULTS/cache/gen0-KEY/                                generation 0's fitted learner, shared by scenarios

DuckDB lets one process write a database file at a time, so every access (reads included) is a short transaction
under an exclusive ``flock`` on a lock file beside the database: two runs (or two shards) sharing a results
directory queue for a few milliseconds per generation instead of failing.

A generation is finished exactly when its row is in ``generations``; its metrics are written in the same
transaction, so a crash leaves either the whole generation or none of it, and a rerun redoes only what is missing.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from bench.records import GenerationRecord, MetricRow

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
    status VARCHAR NOT NULL
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
    PRIMARY KEY (run_id, scenario, seed, generation)
);
"""


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
)


def _arrow(rows: list[tuple], columns: tuple[tuple[str, pa.DataType], ...]) -> pa.Table:
    """Rows as an Arrow table with the database's column types (so an empty batch still has a schema)."""
    return pa.table({name: pa.array([row[i] for row in rows], type=kind) for i, (name, kind) in enumerate(columns)})


class StoreError(RuntimeError):
    """A results directory or database that cannot be used."""


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


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

    @contextlib.contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A short-lived connection under the directory's exclusive lock (DuckDB allows one process at a time)."""
        if read_only and not self.database.exists():
            raise StoreError(f"{self.root}: no results database ({DATABASE}); run a suite first")
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.lock_path, "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                con = duckdb.connect(str(self.database))
                try:
                    yield con
                finally:
                    con.close()
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    # -- the artifacts layout ---------------------------------------------------------------------------------

    def generation_dir(self, run_id: str, scenario: str, seed: int, generation: int) -> Path:
        """Where one generation of one cell keeps its data set, samples, selection and checkpoint."""
        return self.root / "artifacts" / run_id / scenario / f"seed-{seed}" / f"gen-{generation:03d}"

    def relative(self, path: Path) -> str:
        """``path`` relative to the results directory, as the database records it (the directory can move)."""
        return str(path.relative_to(self.root))

    def results_json(self, run_id: str) -> Path:
        """The run's lm-eval style results JSON, beside the database (``bench.results_json``)."""
        return self.root / f"results-{run_id}.json"

    def generation_zero_dir(self, key: str) -> Path:
        """Generation 0's shared fitted learner for one (seed, settings) key."""
        return self.root / "cache" / f"gen0-{key}"

    def publish(self, target: Path, write: Callable[[Path], None]) -> None:
        """Write a folder with ``write(staging)`` and rename it to ``target`` atomically; the first writer wins.

        Two shards racing here both write the same deterministic content, and the loser's copy is dropped.
        """
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-"))
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
    ) -> None:
        """Record a run once; a resumed run keeps its first start time and is marked running again."""
        with self.connect() as con:
            con.execute(SCHEMA)
            con.execute(
                """INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, 'running')
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
                ],
            )
            con.execute("UPDATE runs SET status = 'running' WHERE run_id = ? AND status != 'finished'", [run_id])

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

    def finished_generations(self, run_id: str, scenario: str, seed: int) -> set[int]:
        if not self.database.exists():
            return set()
        with self.connect() as con:
            con.execute(SCHEMA)
            rows = con.execute(
                "SELECT generation FROM generations WHERE run_id = ? AND scenario = ? AND seed = ?",
                [run_id, scenario, seed],
            ).fetchall()
        return {r[0] for r in rows}

    # -- one finished generation ------------------------------------------------------------------------------

    def record_generation(self, record: GenerationRecord) -> None:
        """Metrics, drop counts and the done marker of one generation in one transaction; a repeat adds nothing."""
        self.record_generations([record])

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
                con.execute("INSERT INTO generations SELECT * FROM generations_table ON CONFLICT DO NOTHING")
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise

    def finished_cells(self, run_id: str) -> dict[tuple[str, int], set[int]]:
        """Every finished generation of a run, by (scenario, seed): one read for a whole suite's resume."""
        if not self.database.exists():
            return {}
        with self.connect() as con:
            con.execute(SCHEMA)
            rows = con.execute(
                "SELECT scenario, seed, generation FROM generations WHERE run_id = ?", [run_id]
            ).fetchall()
        done: dict[tuple[str, int], set[int]] = {}
        for scenario, seed, generation in rows:
            done.setdefault((scenario, seed), set()).add(generation)
        return done

    # -- reading ----------------------------------------------------------------------------------------------

    def runs(self) -> list[dict]:
        with self.connect(read_only=True) as con:
            con.execute(SCHEMA)
            cursor = con.execute("SELECT * FROM runs ORDER BY started_at")
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def generation_counts(self) -> dict[str, dict[tuple[str, int], int]]:
        """Finished generations of every run, by (scenario, seed): what ``bench runs`` counts."""
        with self.connect(read_only=True) as con:
            con.execute(SCHEMA)
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
            con.execute(SCHEMA)
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

    # -- merging ----------------------------------------------------------------------------------------------

    def merge_from(self, other: Store) -> dict[str, int]:
        """Copy another results directory's rows and artifacts in; rows already here are kept, not duplicated."""
        if not other.database.exists():
            raise StoreError(f"{other.root}: no results database ({DATABASE})")
        if other.root.resolve() == self.root.resolve():
            raise StoreError(f"{other.root}: cannot merge a results directory into itself")
        self.create()
        before = self.count_rows()
        # Copy the source under its own lock first, so the attach never races a writer there.
        with tempfile.TemporaryDirectory() as tmp:
            snapshot = Path(tmp) / DATABASE
            with open(other.lock_path, "a+") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                try:
                    shutil.copyfile(other.database, snapshot)
                finally:
                    fcntl.flock(lock, fcntl.LOCK_UN)
            with self.connect() as con:
                con.execute(SCHEMA)
                con.execute(f"ATTACH '{snapshot}' AS source (READ_ONLY)")
                for table in ("runs", "metrics", "drops", "generations"):
                    con.execute(f"INSERT INTO {table} SELECT * FROM source.{table} ON CONFLICT DO NOTHING")  # noqa: S608
                con.execute("DETACH source")
        for folder in ("artifacts",):
            source = other.root / folder
            if source.exists():
                shutil.copytree(source, self.root / folder, dirs_exist_ok=True)
        after = self.count_rows()
        return {table: after[table] - before[table] for table in after}


# -- Parquet artifacts ----------------------------------------------------------------------------------------


def write_parquet(path: Path, columns: dict[str, Sequence]) -> None:
    """Write atomically: a crash never leaves a half-written file under the final name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.table({name: list(values) for name, values in columns.items()})
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def read_parquet(path: Path) -> dict[str, list]:
    return pq.read_table(path).to_pydict()
