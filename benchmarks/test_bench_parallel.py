"""Cells in parallel: the smoke suite sequential (torch on every core) against ``--workers 2``, side by side.

Run with ``pytest benchmarks --benchmark-only``. Both runs happen in this process, one after the other, each into a
fresh results directory: the sequential one with torch using every core (the default a user gets), the parallel
one starting and stopping its own local Ray instance (start-up counted). ``extra_info`` records
``cells_speedup_2_workers`` = sequential seconds / parallel seconds and where the parallel run's time went: Ray's
start-up, the wait for the first cell and the slowest cell.

A third run, sequential on one torch thread (what each cell gets in parallel), gives the ceiling: two cells at once
on one thread each can at best halve that run, so ``cells_speedup_ceiling_2_workers`` = 2 × sequential seconds /
one-thread seconds, the speed-up of a parallel run with no start-up, no imports and perfectly even cells. Where torch
gains little from a second thread the ceiling is near 2; where it gains much, near 1. On a shared
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


def run_sequential(suite, threads: int, results: Path):
    """The suite run sequentially in this process with torch on ``threads`` threads: its summary and seconds."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        started = time.perf_counter()
        summary = run_suite(suite, SMOKE, results, show_progress=False)
        return summary, time.perf_counter() - started
    finally:
        torch.set_num_threads(previous)


def test_cells_speedup_2_workers(benchmark, tmp_path) -> None:
    pytest.importorskip("ray")
    suite = load_suite(SMOKE, OVERRIDES)
    sequential_threads = int(os.environ.get("BENCH_SEQUENTIAL_THREADS", os.cpu_count() or 1))
    # By default torch on every core, as `bench run` uses it; then on one thread, as each parallel cell does.
    sequential, sequential_seconds = run_sequential(suite, sequential_threads, tmp_path / "sequential")
    one_thread, one_thread_seconds = run_sequential(suite, 1, tmp_path / "one-thread")

    def parallel():
        return run_suite_parallel(
            suite, SMOKE, tmp_path / "parallel", ParallelOptions(workers=WORKERS), show_progress=False
        )

    summary, parallel_seconds, _ = measure(benchmark, parallel)
    assert sequential.finished and one_thread.finished and summary.finished and summary.failed == ()
    ceiling = WORKERS * sequential_seconds / one_thread_seconds
    benchmark.extra_info.update(
        device=f"cpu: {cpu_name()}, {os.cpu_count()} cores",
        cells=summary.cells,
        sequential_seconds=sequential_seconds,
        sequential_torch_threads=sequential_threads,
        sequential_one_thread_seconds=one_thread_seconds,
        parallel_seconds=parallel_seconds,
        cells_speedup_2_workers=sequential_seconds / parallel_seconds,
        cells_speedup_ceiling_2_workers=ceiling,
        cells_speedup_share_of_ceiling=sequential_seconds / parallel_seconds / ceiling,
        ray_start_seconds=summary.startup_seconds,
        first_cell_seconds=summary.first_cell_seconds,
        slowest_cell_seconds=summary.slowest_cell_seconds,
    )
