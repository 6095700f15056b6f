"""The rows of the results database: what a run writes (its ``runs`` row, finished generations, failed cells) and
what the reading commands read back (runs, metric rows, counts).

Every function takes the directory's :class:`~bench.store.connection.Database`; :class:`bench.store.database.Store`
is the face callers use.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from bench.records import GenerationRecord, MetricRow, RunRow
from bench.store.connection import Database
from bench.store.errors import StoreError
from bench.store.schema import DROP_COLUMNS, GENERATION_COLUMNS, METRIC_COLUMNS, REQUIRED_TABLES, table_names

# A finished generation's recorded artifact digests, by path; ``None`` for rows written before digests existed.
Digests = dict[str, str] | None


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _arrow(rows: list[tuple], columns: tuple[tuple[str, pa.DataType], ...]) -> pa.Table:
    """Rows as an Arrow table with the database's column types (so an empty batch still has a schema)."""
    return pa.table({name: pa.array([row[i] for row in rows], type=kind) for i, (name, kind) in enumerate(columns)})


# -- a run ----------------------------------------------------------------------------------------------------------


def begin_run(
    db: Database,
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
    with db.connect() as con:
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


def finish_run(db: Database, run_id: str, expected_generations: int) -> bool:
    """Mark the run finished when every cell has every generation (shards finish it together)."""
    with db.connect() as con:
        (done,) = con.execute("SELECT count(*) FROM generations WHERE run_id = ?", [run_id]).fetchone()
        if done < expected_generations:
            return False
        con.execute(
            "UPDATE runs SET status = 'finished', finished_at = coalesce(finished_at, ?) WHERE run_id = ?",
            [_now(), run_id],
        )
        return True


# -- finished generations -------------------------------------------------------------------------------------------


def record_generations(db: Database, records: Sequence[GenerationRecord]) -> None:
    """Several finished generations in one transaction (one lock, one connection): fast learners finish hundreds of
    generations a second, and a connection costs milliseconds. Rows go in as Arrow tables, which DuckDB inserts in
    bulk; ``ON CONFLICT DO NOTHING`` makes a repeat add nothing."""
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
    with db.connect() as con:
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


def generation_records(db: Database, run_id: str) -> dict[tuple[str, int], dict[int, Digests]]:
    """Each finished generation of a run with its artifact digests, by (scenario, seed)."""
    if not db.exists():
        return {}
    with db.connect(read_only=True) as con:
        if "generations" not in table_names(con):
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
    done: dict[tuple[str, int], dict[int, Digests]] = {}
    for scenario, seed, generation, artifacts in rows:
        done.setdefault((scenario, seed), {})[generation] = None if artifacts is None else json.loads(artifacts)
    return done


def delete_generations_from(db: Database, run_id: str, scenario: str, seed: int, first: int) -> None:
    """Rows of generation ``first`` and every later one of a cell go; the run is running again."""
    with db.connect() as con:
        con.execute("BEGIN TRANSACTION")
        for table in ("metrics", "drops", "generations"):
            con.execute(
                f"DELETE FROM {table} WHERE run_id = ? AND scenario = ? AND seed = ? AND generation >= ?",  # noqa: S608
                [run_id, scenario, seed, first],
            )
        con.execute("UPDATE runs SET status = 'running', finished_at = NULL WHERE run_id = ?", [run_id])
        con.execute("COMMIT")


# -- failed cells ---------------------------------------------------------------------------------------------------


def record_failure(db: Database, run_id: str, scenario: str, seed: int, generation: int, error: str) -> None:
    """A cell that failed at run time: the newest error per cell (a rerun retries it)."""
    with db.connect() as con:
        con.execute(
            "INSERT OR REPLACE INTO failures VALUES (?, ?, ?, ?, ?, ?)",
            [run_id, scenario, seed, generation, error, _now()],
        )
        con.execute("UPDATE runs SET status = 'failed' WHERE run_id = ? AND status != 'finished'", [run_id])


def clear_failure(db: Database, run_id: str, scenario: str, seed: int) -> None:
    with db.connect() as con:
        con.execute("DELETE FROM failures WHERE run_id = ? AND scenario = ? AND seed = ?", [run_id, scenario, seed])


def failures(db: Database, run_id: str) -> list[tuple[str, int, int, str]]:
    """(scenario, seed, generation, error) of every failed cell of a run, oldest databases included."""
    if not db.exists():
        return []
    with db.connect(read_only=True) as con:
        if "failures" not in table_names(con):
            return []
        return con.execute(
            "SELECT scenario, seed, generation, error FROM failures WHERE run_id = ? ORDER BY scenario, seed",
            [run_id],
        ).fetchall()


# -- reading --------------------------------------------------------------------------------------------------------


def runs(db: Database) -> list[RunRow]:
    """Every run, oldest first."""
    with db.connect(read_only=True) as con:
        if "runs" not in table_names(con):  # a database some other process created, not yet written by a run
            return []
        # SELECT *: a database from before a column existed lacks it, and the row reads it as None.
        cursor = con.execute("SELECT * FROM runs ORDER BY started_at")
        names = [d[0] for d in cursor.description]
        return [RunRow.from_columns(dict(zip(names, row, strict=True))) for row in cursor.fetchall()]


def newest_run_with_generations(db: Database, suite: str | None = None) -> str | None:
    """The id of the newest run (of ``suite``, if given) with finished generations."""
    with db.connect(read_only=True) as con:
        row = con.execute(
            """SELECT run_id FROM runs r
               WHERE (? IS NULL OR suite = ?) AND EXISTS (SELECT 1 FROM generations g WHERE g.run_id = r.run_id)
               ORDER BY started_at DESC LIMIT 1""",
            [suite, suite],
        ).fetchone()
    return None if row is None else row[0]


def generation_counts(db: Database) -> dict[str, dict[tuple[str, int], int]]:
    """Finished generations of every run, by (scenario, seed): what ``bench runs`` counts."""
    with db.connect(read_only=True) as con:
        if "generations" not in table_names(con):
            return {}
        rows = con.execute(
            "SELECT run_id, scenario, seed, count(*) FROM generations GROUP BY run_id, scenario, seed"
        ).fetchall()
    counts: dict[str, dict[tuple[str, int], int]] = {}
    for run_id, scenario, seed, n in rows:
        counts.setdefault(run_id, {})[(scenario, seed)] = n
    return counts


def generation_times(db: Database, run_id: str) -> dict[tuple[str, int, int], datetime]:
    """When each finished generation of a run was stored, by (scenario, seed, generation)."""
    with db.connect(read_only=True) as con:
        rows = con.execute(
            "SELECT scenario, seed, generation, finished_at FROM generations WHERE run_id = ?", [run_id]
        ).fetchall()
    return {(scenario, int(seed), int(generation)): finished for scenario, seed, generation, finished in rows}


def metric_rows(db: Database, run_id: str) -> list[MetricRow]:
    with db.connect(read_only=True) as con:
        rows = con.execute(
            """SELECT run_id, suite, scenario, seed, generation, metric, value, higher_is_better
               FROM metrics WHERE run_id = ? ORDER BY scenario, seed, generation, metric""",
            [run_id],
        ).fetchall()
    return [MetricRow(*row) for row in rows]


def count_rows(db: Database) -> dict[str, int]:
    with db.connect(read_only=True) as con:
        return {
            table: con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608 - fixed names
            for table in REQUIRED_TABLES
        }


def table(db: Database, name: str) -> list[tuple[Any, ...]]:
    """Every row of one results table, in key order."""
    if name not in REQUIRED_TABLES:
        raise StoreError(f"unknown table {name!r}")
    with db.connect(read_only=True) as con:
        order = {"runs": "run_id", "metrics": "run_id, scenario, seed, generation, metric"}.get(
            name, "run_id, scenario, seed, generation"
        )
        return con.execute(f"SELECT * FROM {name} ORDER BY {order}").fetchall()  # noqa: S608 - fixed names
