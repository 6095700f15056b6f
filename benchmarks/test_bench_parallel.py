"""Cells in parallel: the smoke suite sequential (torch on every core) against ``--workers 2``, side by side.

Run with ``pytest benchmarks --benchmark-only``. Both runs happen in this process, one after the other, each into a
fresh results directory: the sequential one with torch using every core (the default a user gets), the parallel
one starting and stopping its own local Ray instance (start-up counted). ``extra_info`` records
``cells_speedup_2_workers`` = sequential seconds / parallel seconds and where the parallel run's time went: Ray's
start-up, the wait for the first cell (worker start-up and generation 0) and the slowest cell. On a shared
machine the figure is noisy: other processes take the cores that the second worker needs, and a 2-thread torch
run can slow down many times over when other jobs hold the cores (see benchmarks/conftest.py).
``BENCH_SEQUENTIAL_THREADS=N`` sets the sequential run's torch threads (default: every core).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import torch

from bench.run.parallel import ParallelOptions, run_suite_parallel
from bench.run.sequential import run_suite
from bench.suite.config import load_suite
from benchmarks.conftest import cpu_name, measure, sized

SMOKE = Path(__file__).resolve().parent.parent / "suites" / "smoke.yaml"
WORKERS = 2
# Fast mode (make test): the smoke suite cut to a few steps, one seed, two generations and the two scenarios that
# need no correct samples (a 4-step model may write none, and the verifier filter would then have nothing to keep).
OVERRIDES = sized(
    [],
    [
        "training.max_iters=4",
        "training.warmup_iters=1",
        "data.size=60",
        "sampling.batch_size=60",
        "seeds=[0]",
        "generations=2",
        "scenarios=[{name: replace, regime: {kind: replace}}, {name: balanced, regime: {kind: fixed_real, "
        "fraction: 0.5, source: original}}]",
    ],
)

pytestmark = pytest.mark.benchmark


def test_cells_speedup_2_workers(benchmark, tmp_path) -> None:
    pytest.importorskip("ray")
    suite = load_suite(SMOKE, OVERRIDES)
    threads = torch.get_num_threads()
    sequential_threads = int(os.environ.get("BENCH_SEQUENTIAL_THREADS", os.cpu_count() or 1))
    torch.set_num_threads(sequential_threads)  # by default torch on every core, as `bench run` uses it
    try:
        started = time.perf_counter()
        sequential = run_suite(suite, SMOKE, tmp_path / "sequential", show_progress=False)
        sequential_seconds = time.perf_counter() - started
    finally:
        torch.set_num_threads(threads)

    def parallel():
        return run_suite_parallel(
            suite, SMOKE, tmp_path / "parallel", ParallelOptions(workers=WORKERS), show_progress=False
        )

    summary, parallel_seconds, _ = measure(benchmark, parallel)
    assert sequential.finished and summary.finished and summary.failed == ()
    benchmark.extra_info.update(
        device=f"cpu: {cpu_name()}, {os.cpu_count()} cores",
        cells=summary.cells,
        sequential_seconds=sequential_seconds,
        sequential_torch_threads=sequential_threads,
        parallel_seconds=parallel_seconds,
        cells_speedup_2_workers=sequential_seconds / parallel_seconds,
        ray_start_seconds=summary.startup_seconds,
        first_cell_seconds=summary.first_cell_seconds,
        slowest_cell_seconds=summary.slowest_cell_seconds,
    )
