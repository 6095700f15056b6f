"""The DuckDB store: idempotent generation records, concurrent writers, merging, typed run rows."""

from __future__ import annotations

import dataclasses
import multiprocessing
from datetime import datetime

import duckdb
import pytest

from bench.records import GenerationRecord, RunRow
from bench.store.database import Store
from bench.store.layout import DATABASE
from bench.store.schema import SCHEMA


def record(scenario: str, seed: int, generation: int, value: float = 0.5, run_id: str = "r1") -> GenerationRecord:
    return GenerationRecord(
        run_id=run_id,
        suite="s",
        scenario=scenario,
        seed=seed,
        generation=generation,
        metrics={"correct": value, "diversity_levenshtein": 1 - value},
        higher_is_better={"correct": True, "diversity_levenshtein": True},
        drops={"verifier_filter:invalid": 3},
        samples_path="a.parquet",
        data_path="b.parquet",
        checkpoint_path=None,
        train_iterations=10,
        best_val_loss=1.0,
        train_seconds=0.1,
        sample_seconds=0.1,
        useful_tokens_per_second=100.0,
    )


def begin(store: Store, run_id: str = "r1") -> None:
    store.begin_run(run_id, "s", "s.yaml", "hash", {"x": 1}, "replace", None, {}, "cpu")


def test_recording_twice_adds_no_rows(tmp_path):
    store = Store(tmp_path)
    begin(store)
    store.record_generations([record("a", 0, 0)])
    store.record_generations([record("a", 0, 0)])
    begin(store)  # a resumed run is not a second run
    assert store.count_rows() == {"runs": 1, "metrics": 2, "drops": 1, "generations": 1}
    assert store.finished_cells("r1") == {("a", 0): {0}}
    rows = store.metric_rows("r1")
    assert [(r.metric, r.value, r.higher_is_better) for r in rows] == [
        ("correct", 0.5, True),
        ("diversity_levenshtein", 0.5, True),
    ]


def test_finish_run_waits_for_every_generation(tmp_path):
    store = Store(tmp_path)
    begin(store)
    store.record_generations([record("a", 0, 0)])
    assert not store.finish_run("r1", expected_generations=2)
    store.record_generations([record("a", 0, 1)])
    assert store.finish_run("r1", expected_generations=2)
    assert store.runs()[0].status == "finished"


def _writer(root: str, scenario: str) -> None:
    store = Store(root)
    begin(store, run_id=f"run-{scenario}")
    for generation in range(15):
        store.record_generations([record(scenario, 0, generation, run_id=f"run-{scenario}")])


def test_concurrent_writers_lose_nothing(tmp_path):
    """DuckDB allows one writer per file: the store's lock queues writers instead of failing one."""
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_writer, args=(str(tmp_path), name)) for name in ("a", "b", "c")]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    counts = Store(tmp_path).count_rows()
    assert counts == {"runs": 3, "metrics": 90, "drops": 45, "generations": 45}


def test_merge_copies_rows_once_and_artifacts(tmp_path):
    left, right = Store(tmp_path / "left"), Store(tmp_path / "right")
    begin(left)
    begin(right)
    left.record_generations([record("a", 0, 0)])
    right.record_generations([record("a", 1, 0)])
    right.record_generations([record("a", 0, 0)])  # also in left: must not duplicate
    (right.root / "artifacts" / "r1").mkdir(parents=True)
    (right.root / "artifacts" / "r1" / "x.parquet").write_text("x")
    added = left.merge_from(right)
    assert added["generations"] == 1 and added["metrics"] == 2
    assert left.count_rows()["generations"] == 2
    assert (left.root / "artifacts" / "r1" / "x.parquet").exists()
    assert left.merge_from(right) == {"runs": 0, "metrics": 0, "drops": 0, "generations": 0}


def test_runs_are_typed_frozen_rows(tmp_path):
    store = Store(tmp_path)
    store.begin_run("r1", "s", "s.yaml", "hash", {"x": 1}, "replace", "abc", {"torch": "2"}, "cpu", git_dirty=False)
    store.record_generations([record("a", 0, 0)])
    (run,) = store.runs()
    assert isinstance(run, RunRow)
    assert (run.run_id, run.suite, run.status, run.baseline, run.device) == ("r1", "s", "running", "replace", "cpu")
    assert run.settings() == {"x": 1} and run.package_versions() == {"torch": "2"}
    assert run.git_commit == "abc" and run.git_dirty is False and run.git_diff_sha256 is None
    assert isinstance(run.started_at, datetime) and run.finished_at is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        run.status = "finished"  # type: ignore[misc]
    assert store.run("r1") == run and store.run("nope") is None
    assert store.choose_run() == run and store.choose_run("other") is None
    ((cell, finished),) = store.generation_times("r1").items()
    assert cell == ("a", 0, 0) and isinstance(finished, datetime)


def test_a_database_from_before_the_provenance_columns_reads_them_as_none(tmp_path):
    """Readers open read-only and migrate nothing: a column an older database lacks is None in the row."""
    old_schema = SCHEMA.replace(",\n    git_dirty BOOLEAN,\n    git_diff_sha256 VARCHAR", "")
    assert old_schema != SCHEMA
    with duckdb.connect(str(tmp_path / DATABASE)) as con:
        con.execute(old_schema)
        con.execute("INSERT INTO runs (run_id, suite, config, status) VALUES ('old', 's', '{}', 'finished')")
    (run,) = Store(tmp_path).runs()
    assert (run.run_id, run.git_dirty, run.git_diff_sha256, run.packages) == ("old", None, None, None)
    assert run.package_versions() == {}
    with duckdb.connect(str(tmp_path / DATABASE), read_only=True) as con:  # nothing was added
        columns = {row[0] for row in con.execute("SELECT column_name FROM information_schema.columns").fetchall()}
    assert "git_dirty" not in columns
