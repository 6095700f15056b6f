"""The results store: one DuckDB file plus Parquet artifacts under a results directory.

:class:`Store` is the one class callers use. It is the directory's :class:`~bench.store.layout.Layout` (where
everything lies) and hands each job to the module that does it:

- ``connection``: the writers' lock, read-only readers, retries while another process holds the file;
- ``schema``: the tables, the migrations of older databases, the column checks before a merge;
- ``rows``: what a run writes and the reading commands read (runs come back as :class:`bench.records.RunRow`);
- ``leftovers``: temporary files and staging folders of interrupted processes;
- ``merge``: another results directory's rows and files copied in;
- ``parquet``: the generations' Parquet files.

Only ``bench.store`` imports duckdb; analysis never imports the store (the CLI reads rows and hands them over).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from bench.records import GenerationRecord, MetricRow, RunRow
from bench.store import leftovers, merge, rows, schema
from bench.store.connection import Database
from bench.store.errors import StoreError
from bench.store.layout import Layout


class Store(Layout):
    """A results directory: ``bench.duckdb``, its lock, and the artifacts tree."""

    def __init__(self, root: str | Path) -> None:
        super().__init__(root)
        self.db = Database(self)

    # -- access -----------------------------------------------------------------------------------------------

    def exists(self) -> bool:
        return self.db.exists()

    def create(self) -> None:
        """Create the directory and a database with every table (a writer's open creates what is missing)."""
        with self.db.connect():
            pass

    def connect(self, read_only: bool = False) -> contextlib.AbstractContextManager[duckdb.DuckDBPyConnection]:
        """A short-lived connection (see :meth:`bench.store.connection.Database.connect`)."""
        return self.db.connect(read_only)

    def check_readable(self) -> None:
        """Raise ``StoreError`` unless the database opens read-only and has the tables of a results database."""
        missing = schema.missing_table(self.db.tables())
        if missing:
            raise StoreError(f"{self.database}: not a results database (no table {missing!r})")

    def check_mergeable(self) -> None:
        """Raise ``StoreError`` unless every table's columns are ones this version has, with the same types, and
        every column this version requires is there: what ``merge_from`` checks before it writes anything."""
        self.check_readable()
        problem = schema.column_problem(self.db.columns())
        if problem:
            raise StoreError(f"{self.database}: {problem}")

    # -- a run ------------------------------------------------------------------------------------------------

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
        rows.begin_run(
            self.db,
            run_id,
            suite,
            suite_path,
            suite_hash,
            config,
            baseline,
            git_commit,
            packages,
            device,
            git_dirty,
            git_diff_sha256,
        )

    def finish_run(self, run_id: str, expected_generations: int) -> bool:
        """Mark the run finished when every cell has every generation (shards finish it together)."""
        return rows.finish_run(self.db, run_id, expected_generations)

    # -- finished generations ---------------------------------------------------------------------------------

    def record_generations(self, records: Sequence[GenerationRecord]) -> None:
        """Several finished generations in one transaction (see :func:`bench.store.rows.record_generations`)."""
        rows.record_generations(self.db, records)

    def generation_records(self, run_id: str) -> dict[tuple[str, int], dict[int, dict[str, str] | None]]:
        """Each finished generation of a run with its artifact digests (``None``: recorded before digests)."""
        return rows.generation_records(self.db, run_id)

    def finished_cells(self, run_id: str) -> dict[tuple[str, int], set[int]]:
        """Every finished generation of a run, by (scenario, seed): one read for a whole suite's resume."""
        return {cell: set(done) for cell, done in self.generation_records(run_id).items()}

    def invalidate(self, run_id: str, scenario: str, seed: int, first: int) -> None:
        """Mark generation ``first`` and every later one of a cell unfinished: rows go, artifacts folders go."""
        rows.delete_generations_from(self.db, run_id, scenario, seed, first)
        self.remove_generations_from(run_id, scenario, seed, first)

    # -- failed cells -----------------------------------------------------------------------------------------

    def record_failure(self, run_id: str, scenario: str, seed: int, generation: int, error: str) -> None:
        """A cell that failed at run time: the newest error per cell (a rerun retries it)."""
        rows.record_failure(self.db, run_id, scenario, seed, generation, error)

    def clear_failure(self, run_id: str, scenario: str, seed: int) -> None:
        rows.clear_failure(self.db, run_id, scenario, seed)

    def failures(self, run_id: str) -> list[tuple[str, int, int, str]]:
        """(scenario, seed, generation, error) of every failed cell of a run, oldest databases included."""
        return rows.failures(self.db, run_id)

    # -- reading ----------------------------------------------------------------------------------------------

    def runs(self) -> list[RunRow]:
        """Every run, oldest first."""
        return rows.runs(self.db)

    def run(self, run_id: str) -> RunRow | None:
        """The run ``run_id``, or ``None`` when the database has no such run."""
        return next((run for run in self.runs() if run.run_id == run_id), None)

    def choose_run(self, suite: str | None = None) -> RunRow | None:
        """The newest run (of ``suite``, if given) with finished generations: a crashed or failed newer run in a
        shared directory must not hide the good one from the leaderboard, the report or the gate."""
        run_id = rows.newest_run_with_generations(self.db, suite)
        return None if run_id is None else self.run(run_id)

    def generation_counts(self) -> dict[str, dict[tuple[str, int], int]]:
        """Finished generations of every run, by (scenario, seed): what ``bench runs`` counts."""
        return rows.generation_counts(self.db)

    def generation_times(self, run_id: str) -> dict[tuple[str, int, int], datetime]:
        """When each finished generation of a run was stored, by (scenario, seed, generation)."""
        return rows.generation_times(self.db, run_id)

    def metric_rows(self, run_id: str) -> list[MetricRow]:
        return rows.metric_rows(self.db, run_id)

    def count_rows(self) -> dict[str, int]:
        return rows.count_rows(self.db)

    def table(self, name: str) -> list[tuple[Any, ...]]:
        return rows.table(self.db, name)

    # -- leftovers and merging --------------------------------------------------------------------------------

    def leftovers(self) -> list[Path]:
        """Temporary files and staging folders of interrupted processes (those of live ones on this host kept)."""
        return leftovers.find(self.root)

    def remove_leftovers(self) -> list[Path]:
        removed = self.leftovers()
        leftovers.remove(removed)
        return removed

    def merge_from(self, other: Store) -> dict[str, int]:
        """Copy another results directory's rows and artifacts in; rows already here are kept, not duplicated."""
        return merge.merge(self, other)
