"""Cells in parallel on Ray: option checks, equivalence with a sequential run, a failing cell, resume after kill -9.

The slow tests share one local Ray instance with 2 CPUs (starting Ray takes seconds): the equivalence and
failing-cell tests drive it in-process, the resume test from a child process through ``--ray ADDRESS``.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import EMPIRICAL_ONE_CELL, write_suite

from bench.cli.main import main
from bench.run.parallel import ParallelOptions, package_root, run_suite_parallel
from bench.store.database import Store
from bench.suite.config import load_suite

# -- options (no Ray) -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--workers", "0"], "--workers must be at least 1, got '0'"),
        (["--workers", "two"], "--workers must be a whole number of cells at once, got 'two'"),
        (["--workers", "2", "--cell-gpus", "1.5"], "--cell-gpus must be at most 1 or a whole number"),
        (["--workers", "2", "--cell-gpus", "-0.25"], "--cell-gpus must be greater than 0, got '-0.25'"),
        (["--workers", "2", "--cell-cpus", "nan"], "--cell-cpus must be greater than 0, got 'nan'"),
        (["--ray", "not an address"], "--ray must be 'auto', HOST:PORT or ray://HOST:PORT, got 'not an address'"),
        (["--ray", "head:99999"], "--ray must be 'auto', HOST:PORT or ray://HOST:PORT, got 'head:99999'"),
        (["--workers", "2", "--ray", "auto"], "not both"),
        (["--cell-gpus", "0.25"], "--cell-cpus and --cell-gpus need --workers N or --ray ADDRESS"),
    ],
)
def test_bad_parallel_options_exit_2_with_one_line_and_write_nothing(micro_suite, tmp_path, capsys, options, message):
    results = tmp_path / "results"
    code = main(["run", str(micro_suite), "--results", str(results), *options])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("bench: error: ") and message in err[0]
    assert not results.exists()


def test_options_parse_and_describe_what_a_cell_takes():
    options = ParallelOptions.parse("4", None, "2", "0.25")
    assert options.enabled and options.workers == 4 and options.torch_threads == 2
    assert options.resources() == {"num_cpus": 2.0, "num_gpus": 0.25}
    assert ParallelOptions.parse(None, "ray://head:10001", None, "2").cell_gpus == 2.0
    assert not ParallelOptions.parse(None, None, None, None).enabled


def test_validate_prints_cells_and_resources(micro_suite, capsys):
    assert main(["validate", str(micro_suite), "--workers", "2", "--cell-cpus", "1"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert "= 4 cell(s)" in lines[0]
    # Two scenarios share generation 0, so one fit per seed.
    assert lines[1] == (
        "resources: 4 cell(s) and 2 generation-0 fit(s); each cell takes 1 CPU and 0 GPU, up to 2 at once (on CPU "
        "one in this process, the others on a local Ray instance)"
    )


def test_a_worker_that_cannot_see_the_results_directory_fails_clearly(micro_suite, tmp_path):
    from bench.run.parallel import CellJob, ResultsNotVisibleError, _worker_cell
    from bench.run.session import RunPlan

    suite = load_suite(micro_suite)
    results = tmp_path / "results"  # what a node without the shared mount sees: nothing there
    plan = RunPlan.make(suite, micro_suite, Store(tmp_path / "driver"))
    job = CellJob(cell=plan.cells[0], results=str(results), torch_threads=1, token="token-of-this-run")
    with pytest.raises(ResultsNotVisibleError, match=r"cannot see the results directory .*\.parallel-check is missing"):
        _worker_cell(job)
    results.mkdir()
    (results / ".parallel-check").write_text("token-of-another-run")  # another run's directory at that path
    with pytest.raises(ResultsNotVisibleError, match="from another run"):
        _worker_cell(job)
    (results / ".parallel-check").write_text("token-of-this-run")
    import torch

    threads = torch.get_num_threads()
    try:
        assert _worker_cell(job).store.root == results and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(threads)  # the worker sets its CPU share; this process is not a worker


def test_fewer_than_two_cells_to_run_run_here_without_starting_ray(tmp_path, capsys, monkeypatch):
    import torch
    from conftest import MICRO, torch_threads, write_suite

    suite_path = write_suite(tmp_path / "one.yaml", dict(MICRO, seeds=[0], scenarios=MICRO["scenarios"][:1]))
    monkeypatch.setitem(sys.modules, "ray", None)  # importing Ray fails: it must not be needed
    options = ParallelOptions(workers=2)
    with torch_threads(2):
        summary = run_suite_parallel(
            load_suite(suite_path), suite_path, tmp_path / "results", options, show_progress=False
        )
        assert torch.get_num_threads() == 2  # this process keeps its own thread count
    assert summary.finished and summary.generations_run == 3 and summary.failed == ()
    assert "1 cell(s) to run: running in this process" in capsys.readouterr().err
    # The cell ran on the threads it would have had on a worker (--cell-cpus 1), so its numbers are the same.
    assert Store(tmp_path / "results").runs()[0].device.endswith(", 1 threads")


# -- on a local Ray instance ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ray_cluster():
    """One local Ray instance with 2 CPUs for the module; its workers import this checkout's bench."""
    ray = pytest.importorskip("ray")
    previous = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (package_root(), previous) if p)
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    context = ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield context.address_info["gcs_address"]
    ray.shutdown()
    if previous is None:
        os.environ.pop("PYTHONPATH", None)
    else:
        os.environ["PYTHONPATH"] = previous


@pytest.fixture(scope="module")
def sequential(micro_run):
    """The micro suite run sequentially with one torch thread (a cell's CPU share below): the session's run."""
    suite_path, results, _ = micro_run
    return suite_path, results


def tables(root: Path) -> tuple[list[tuple], list[tuple], list[tuple]]:
    """Metric rows, drop rows and the generations' keys and paths (timings and time stamps aside)."""
    store = Store(root)
    # Sorted whole: the store orders drops by generation only, not by reason.
    generations = sorted(row[:7] for row in store.table("generations"))
    return sorted(store.table("metrics")), sorted(store.table("drops")), generations


@pytest.mark.slow
def test_two_workers_give_the_same_rows_as_a_sequential_run(ray_cluster, sequential, tmp_path, monkeypatch):
    from bench.run import parallel

    suite_path, reference = sequential
    results = tmp_path / "results"
    in_driver: list[str] = []
    start = parallel._LocalSlot.start

    def counted(slot, cell):
        in_driver.append(cell.name)
        start(slot, cell)

    monkeypatch.setattr(parallel._LocalSlot, "start", counted)
    summary = run_suite_parallel(
        load_suite(suite_path), suite_path, results, ParallelOptions(workers=2), show_progress=False
    )
    assert summary.finished and summary.generations_run == 12 and summary.failed == ()
    # The driver ran the first cell itself (while Ray started) and Ray at least one: two at once, both used.
    assert in_driver[0] == "replace seed 0" and 1 <= len(in_driver) <= 3
    assert tables(results) == tables(reference)
    run_id = Store(results).runs()[0].run_id
    cell = results / "artifacts" / run_id / "replace" / "seed-0"
    assert [(cell / f"gen-00{g}" / "model").exists() for g in range(3)] == [False, False, True]  # checkpoints: last
    assert len(list((results / "cache").glob("gen0-*"))) == 2  # one generation-0 fit per seed
    # An interrupted cell whose finished generation's output was damaged since: the driver checks the recorded
    # digests of what the next generation reads, as the sequential runner does, and redoes both, with the same
    # numbers.
    Store(results).invalidate(run_id, "replace", 0, 2)
    selected = cell / "gen-001" / "selected.parquet"
    selected.write_bytes(selected.read_bytes()[:100])
    again = run_suite_parallel(
        load_suite(suite_path), suite_path, results, ParallelOptions(workers=2), show_progress=False
    )
    assert again.finished and again.generations_run == 2 and again.generations_skipped == 10
    assert tables(results) == tables(reference)


@pytest.mark.slow
def test_a_failing_cell_is_reported_by_name_while_the_others_finish(ray_cluster, sequential, tmp_path, capsys):
    suite_path, reference = sequential
    results = tmp_path / "results"
    run_id = load_suite(suite_path).run_id()
    # A file where one cell's artifacts go: that cell cannot write its generations, whatever the worker does.
    blocked = results / "artifacts" / run_id / "filtered" / "seed-1"
    blocked.parent.mkdir(parents=True)
    blocked.write_text("not a directory")
    code = main(["run", str(suite_path), "--results", str(results), "--ray", ray_cluster, "--quiet"])
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if line.startswith("bench: error:")]
    assert code == 1
    assert len(errors) == 1
    assert errors[0].startswith("bench: error: cell filtered seed 1 failed at generation 0: NotADirectoryError: ")
    assert "9 generation(s) run" in captured.out and "partial" in captured.out
    keys = {row[1:4] for row in Store(results).table("generations")}
    assert len(keys) == 9 and not any(key[:2] == ("filtered", 1) for key in keys)
    assert [f[:3] for f in Store(results).failures(run_id)] == [("filtered", 1, 0)]  # recorded as sequential runs do
    # The sequential driver, resuming the same run, meets the same failure and says so in the same line.
    assert main(["run", str(suite_path), "--results", str(results), "--quiet"]) == 1
    captured = capsys.readouterr()
    assert [line for line in captured.err.splitlines() if line.startswith("bench: error:")] == errors
    assert "0 generation(s) run, 9 already done" in captured.out
    # Fixed, the same command finishes only the failed cell, and the tables equal the sequential run's.
    blocked.unlink()
    assert main(["run", str(suite_path), "--results", str(results), "--ray", ray_cluster, "--quiet"]) == 0
    assert "3 generation(s) run, 9 already done" in capsys.readouterr().out
    assert tables(results) == tables(reference)
    assert Store(results).failures(run_id) == []  # done now


@pytest.mark.slow
def test_resume_after_killing_the_driver_gives_the_sequential_tables(ray_cluster, sequential, tmp_path, capsys):
    suite_path, reference = sequential
    results = tmp_path / "results"
    command = [sys.executable, "-m", "bench", "run", str(suite_path), "--results", str(results), "--quiet"]
    command += ["--ray", ray_cluster]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=package_root()
    )
    run_id = load_suite(suite_path).run_id()
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None:
        if Store(results).exists() and Store(results).finished_cells(run_id):  # some generation is stored
            break
        time.sleep(0.2)
    assert process.poll() is None, f"the run ended before it could be killed: {process.stderr.read()}"
    os.kill(process.pid, signal.SIGKILL)  # the driver dies mid-suite; Ray stops its job's tasks
    process.wait()
    done = sum(len(g) for g in Store(results).finished_cells(run_id).values())
    assert 0 < done < 12
    # The same command again (in this process, which saves starting Python once more) finishes the suite.
    assert main(command[3:]) == 0
    out = capsys.readouterr().out
    assert f"{done} already done" in out and "finished" in out
    assert tables(results) == tables(reference)  # same metrics, no duplicates


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="Ray is the optional extra `parallel`")
def test_the_local_instance_starts_without_ray_warnings(tmp_path):
    """`--workers` starts a local Ray instance with Ray's default for it (token authentication, a token generated
    on first use), set explicitly, so Ray's start-up warning about that default is not printed."""
    suite = write_suite(tmp_path / "s.yaml", {**EMPIRICAL_ONE_CELL, "seeds": [0, 1]})
    environment = {key: value for key, value in os.environ.items() if not key.startswith("RAY_")}
    environment.update(OMP_NUM_THREADS="1", HOME=str(tmp_path), PYTHONPATH=package_root())  # a home without a token
    command = [sys.executable, "-m", "bench", "run", str(suite), "--results", str(tmp_path / "results")]
    done = subprocess.run(
        [*command, "--workers", "2", "--quiet", "--allow-cpu"],
        capture_output=True,
        text=True,
        env=environment,
        stdin=subprocess.DEVNULL,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "finished" in done.stdout
    assert "Token authentication" not in done.stderr and "RAY_AUTH_MODE" not in done.stderr, done.stderr
    assert (tmp_path / ".ray" / "auth_token").is_file()  # Ray's token for the local instance, made by Ray
