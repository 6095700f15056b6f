"""Whole loops on a micro suite: determinism, reruns, resume after a crash or kill -9, shards and merging."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ONE_THREAD_ENV, torch_threads

from bench.run.sequential import Shard, run_suite
from bench.store.database import Store
from bench.store.parquet import read_parquet
from bench.suite.config import load_suite

pytestmark = pytest.mark.slow


def metric_table(root: Path) -> list[tuple]:
    return Store(root).table("metrics")


def generation_keys(root: Path) -> list[tuple]:
    return [row[:4] for row in Store(root).table("generations")]


@pytest.fixture(scope="module")
def clean_run(micro_run):
    """One uninterrupted run of the micro suite (the session's, on one torch thread), the reference for the other
    tests; what they run to compare with it runs on one thread too."""
    return micro_run


@pytest.fixture(autouse=True)
def one_torch_thread():
    with torch_threads(1):
        yield


def test_a_run_fills_every_table(clean_run):
    _, results, summary = clean_run
    assert summary.finished and summary.generations_run == 2 * 2 * 3
    counts = Store(results).count_rows()
    assert counts["runs"] == 1 and counts["generations"] == 12
    metrics = {row[5] for row in metric_table(results)}
    assert {
        "correct",
        "incorrect",
        "invalid",
        "diversity_levenshtein",
        "unique_ratio",
        "data_synthetic_share",
    } <= metrics
    run = Store(results).runs()[0]
    assert run.status == "finished" and "transformers" in run.package_versions()


def test_generation_zero_is_shared_and_regimes_compose_as_specified(clean_run):
    _, results, _ = clean_run
    values = {(r[2], r[3], r[4], r[5]): r[6] for r in metric_table(results)}
    for seed in (0, 1):
        for metric in ("correct", "diversity_levenshtein", "val_loss"):
            assert values[("replace", seed, 0, metric)] == values[("filtered", seed, 0, metric)]
        assert values[("replace", seed, 0, "data_real_share")] == 1.0
        assert values[("replace", seed, 2, "data_synthetic_share")] == 1.0
        assert values[("replace", seed, 2, "data_size")] == 120
    # The filter keeps only correct samples, so the next data set is all-correct.
    run_id = Store(results).runs()[0].run_id
    data = read_parquet(results / "artifacts" / run_id / "filtered" / "seed-0" / "gen-001" / "data.parquet")
    from bench.tasks import get_task

    task = get_task("logic")
    assert all(task.verify(text).label == "correct" for text in data["text"])


def test_rerunning_a_finished_suite_does_no_work_and_adds_no_rows(clean_run, tmp_path):
    suite_path, clean_results, _ = clean_run
    results = tmp_path / "results"
    shutil.copytree(clean_results, results)  # the session's run stays as it is
    before = metric_table(results)
    summary = run_suite(load_suite(suite_path), suite_path, results, show_progress=False)
    assert summary.generations_run == 0 and summary.generations_skipped == 12
    assert metric_table(results) == before
    assert Store(results).count_rows()["runs"] == 1


def test_resume_after_a_crash_gives_identical_tables(clean_run, tmp_path, monkeypatch):
    suite_path, clean_results, _ = clean_run
    results = tmp_path / "results"
    calls = {"n": 0}
    original = Store.record_generations

    def crash_on_fifth(self, records):
        # Records arrive in batches: store the first four generations, then crash on the fifth (its artifacts are
        # written, its database rows are not).
        if calls["n"] + len(records) >= 5:
            original(self, records[: max(0, 4 - calls["n"])])
            calls["n"] = 4
            raise RuntimeError("simulated crash")
        calls["n"] += len(records)
        return original(self, records)

    monkeypatch.setattr(Store, "record_generations", crash_on_fifth)
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_suite(load_suite(suite_path), suite_path, results, show_progress=False)
    monkeypatch.setattr(Store, "record_generations", original)
    assert len(generation_keys(results)) == 4
    summary = run_suite(load_suite(suite_path), suite_path, results, show_progress=False)
    assert summary.generations_run == 8 and summary.finished
    assert metric_table(results) == metric_table(clean_results)  # same seed -> identical metrics, no duplicates


def test_resume_after_kill_9_gives_identical_tables(clean_run, tmp_path):
    suite_path, clean_results, _ = clean_run
    results = tmp_path / "results"
    command = [sys.executable, "-m", "bench", "run", str(suite_path), "--results", str(results), "--quiet"]
    environment = {**os.environ, **ONE_THREAD_ENV}
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=environment)
    deadline = time.monotonic() + 240
    # Kill as soon as a generation is stored: early enough that a loaded machine cannot finish the run first.
    while time.monotonic() < deadline and process.poll() is None:
        if Store(results).exists() and Store(results).finished_cells(load_suite(suite_path).run_id()):
            break
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    done = len(generation_keys(results))
    assert 0 < done < 12, "the kill should land mid-run"
    # The same command again, in this process (on one torch thread, as the killed one ran): starting Python once
    # more would test nothing new.
    from conftest import bench

    assert bench(*command[3:]).returncode == 0
    assert metric_table(results) == metric_table(clean_results)


def test_shards_cover_the_suite_and_merge_to_the_full_run(clean_run, tmp_path):
    suite_path, clean_results, _ = clean_run
    suite = load_suite(suite_path)
    for index in (1, 2):
        summary = run_suite(suite, suite_path, tmp_path / f"shard{index}", Shard(index, 2), show_progress=False)
        assert summary.cells == 2 and not summary.finished
    merged = Store(tmp_path / "merged")
    merged.merge_from(Store(tmp_path / "shard1"))
    merged.merge_from(Store(tmp_path / "shard2"))
    assert metric_table(tmp_path / "merged") == metric_table(clean_results)


def test_shard_parsing():
    assert Shard.parse("2/4") == Shard(2, 4)
    assert [Shard(1, 2).owns(i) for i in range(4)] == [True, False, True, False]
    for bad in ("0/2", "3/2", "a/b", "1"):
        with pytest.raises(ValueError, match="--shard"):
            Shard.parse(bad)


def test_two_cpu_processes_data_parallel(tmp_path):
    """Accelerate's multi-CPU mode (two processes, gloo, started by torchrun): the runner path used on many GPUs."""
    from conftest import MICRO, write_suite

    suite = dict(MICRO, seeds=[0], generations=2, scenarios=MICRO["scenarios"][:1])
    suite_path = write_suite(tmp_path / "micro.yaml", suite)
    launcher = Path(sys.executable).parent / "torchrun"
    command = [
        str(launcher), "--nproc_per_node", "2", "--master_port", "29561",
        "-m", "bench", "run", str(suite_path), "--results", str(tmp_path / "results"), "--quiet",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("finished") == 1  # only the main process reports
    store = Store(tmp_path / "results")
    assert store.count_rows()["generations"] == 2
    assert store.runs()[0].device.endswith("× 2 processes")


def test_warm_start_continues_from_the_previous_generation(tmp_path):
    from conftest import MICRO, write_suite

    scenarios = [{"name": "warm", "regime": {"kind": "replace"}, "model": {"init": "warm"}}]
    suite_path = write_suite(tmp_path / "warm.yaml", dict(MICRO, seeds=[0], checkpoints="none", scenarios=scenarios))
    summary = run_suite(load_suite(suite_path), suite_path, tmp_path / "results", show_progress=False)
    assert summary.finished
    cell = tmp_path / "results" / "artifacts" / summary.run_id / "warm" / "seed-0"
    # Warm starts need the newest checkpoint even with checkpoints: none, but only until the cell's last generation
    # is recorded: then none is kept (tests/test_faults.py checks that a resume without them is identical).
    assert [p.parent.name for p in sorted(cell.glob("gen-*/model"))] == []
    assert (cell / "gen-002" / "selected.parquet").is_file()


def test_two_runs_into_one_results_directory_at_once(tmp_path):
    """DuckDB allows one writer per file; two suites running side by side must both land every row."""
    from conftest import MICRO, write_suite

    results = tmp_path / "results"
    processes = []
    for name in ("left", "right"):
        suite = dict(MICRO, suite=name, seeds=[0], generations=2)
        path = write_suite(tmp_path / f"{name}.yaml", suite)
        command = [sys.executable, "-m", "bench", "run", str(path), "--results", str(results), "--quiet"]
        processes.append(subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for process in processes:
        _, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, stderr[-3000:]
    store = Store(results)
    assert {run.suite: run.status for run in store.runs()} == {"left": "finished", "right": "finished"}
    assert store.count_rows()["generations"] == 2 * 2 * 2


@pytest.mark.parametrize("policy", ["disjoint", "independent"])
def test_fresh_data_policy(tmp_path, policy):
    from conftest import MICRO, write_suite

    scenarios = [{"name": "fresh", "regime": {"kind": "fixed_real", "fraction": 0.5, "source": "fresh"}}]
    data = dict(MICRO["data"], fresh=policy)
    suite_path = write_suite(tmp_path / "f.yaml", dict(MICRO, seeds=[0], generations=2, data=data, scenarios=scenarios))
    summary = run_suite(load_suite(suite_path), suite_path, tmp_path / "results", show_progress=False)
    cell = tmp_path / "results" / "artifacts" / summary.run_id / "fresh" / "seed-0"
    real = set(read_parquet(cell / "gen-000" / "data.parquet")["text"])
    gen1 = read_parquet(cell / "gen-001" / "data.parquet")
    fresh = [t for t, o in zip(gen1["text"], gen1["origin"], strict=True) if o == "fresh"]
    assert len(fresh) == 60
    overlap = sum(t in real for t in fresh)
    # Short expressions recur, so independent draws meet R often; disjoint ones never do.
    assert overlap == 0 if policy == "disjoint" else overlap > 10


def test_a_changed_setting_is_refused_in_the_same_results_directory(clean_run, tmp_path):
    """A results directory holding this suite under other settings (e.g. an old code default) refuses the run."""
    import json

    import duckdb
    from conftest import bench

    suite_path, results, _ = clean_run
    copy = tmp_path / "results"
    shutil.copytree(results, copy)
    with duckdb.connect(str(copy / "bench.duckdb")) as con:
        (config,) = con.execute("SELECT config FROM runs").fetchone()
        old = json.loads(config)
        old["data"]["validation_fraction"] = 0.2  # as if the code default had been 0.2 when it ran
        con.execute("UPDATE runs SET config = ?, run_id = 'micro-old'", [json.dumps(old)])
    before = Store(copy).count_rows()
    result = bench("run", str(suite_path), "--results", str(copy), "--quiet")
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "data.validation_fraction" in lines[0] and "new --results directory" in lines[0]
    assert "Traceback" not in result.stderr
    assert Store(copy).count_rows() == before  # nothing written


def test_a_run_resolves_each_scenario_once(tmp_path, monkeypatch):
    """The run id, the recorded settings and the planned cells all come from one resolution of the suite (resolving
    a text suite hashes its corpus and model folder)."""
    from conftest import write_suite

    from bench.suite.config import Suite

    scenarios = [
        {"name": "replace", "regime": {"kind": "replace"}},
        {"name": "sub", "regime": {"kind": "accumulate_subsample"}},
    ]
    suite_path = write_suite(
        tmp_path / "empirical.yaml",
        {"suite": "once", "seeds": [0, 1], "generations": 2, "task": {"name": "logic"}, "data": {"size": 40},
         "model": {"kind": "empirical"}, "scenarios": scenarios},
    )  # fmt: skip
    suite = load_suite(suite_path)  # loading validates every scenario: not part of the run
    run_id = suite.run_id()
    resolved: list[str] = []
    resolve = Suite.resolve

    def counted(self, scenario):
        resolved.append(scenario.name)
        return resolve(self, scenario)

    monkeypatch.setattr(Suite, "resolve", counted)
    summary = run_suite(suite, suite_path, tmp_path / "results", show_progress=False)
    assert summary.finished and summary.run_id == run_id
    assert sorted(resolved) == ["replace", "sub"]


def test_held_out_real_metrics_are_recorded(clean_run):
    import math

    _, results, _ = clean_run
    values = {(r[2], r[3], r[4], r[5]): r[6] for r in metric_table(results)}
    for (scenario, seed, generation, metric), nll in values.items():
        if metric == "real_nll":
            assert nll > 0
            assert values[(scenario, seed, generation, "real_ppl")] == pytest.approx(math.exp(nll))
    # Generation 0 is shared, so its held-out fit is identical across scenarios.
    assert values[("replace", 0, 0, "real_nll")] == values[("filtered", 0, 0, "real_nll")]


def test_test_set_is_drawn_apart_from_the_real_data():
    from conftest import MICRO

    from bench.learners import LearnerSetup
    from bench.run.loop import Cell, real_data
    from bench.suite.config import parse_suite

    suite = parse_suite({**MICRO, "training": {**MICRO["training"], "validation": "real"}})
    scenario = suite.resolved_scenarios()[0]
    task = __import__("bench.tasks", fromlist=["get_task"]).get_task(scenario.task.name, **scenario.task.params)
    cell = Cell("r", "micro", scenario, 0, "last", Store("/nonexistent"), LearnerSetup(task, scenario.training, None))
    real = real_data(cell)
    assert len(real.train) == 120 and len(real.test) == 12  # default |T*| = min(1000, N/10)
    assert len(real.validation) == 12  # validation: real holds out validation_fraction * N real samples
    assert real_data(cell) == real  # seeded
    assert not set(real.validation) & set(real.test)  # V* is string-disjoint from T*
    assert list(real.train.texts[:12]) != real.test  # its own seed, not a slice of R


def test_early_stopping_on_real_data_runs(tmp_path):
    from conftest import MICRO, write_suite

    data = {**MICRO, "seeds": [0], "generations": 2, "training": {**MICRO["training"], "validation": "real"}}
    path = write_suite(tmp_path / "real.yaml", data)
    summary = run_suite(load_suite(path), path, tmp_path / "results", show_progress=False)
    assert summary.finished
    metrics = {r[5] for r in metric_table(tmp_path / "results")}
    assert {"val_loss", "real_nll"} <= metrics
