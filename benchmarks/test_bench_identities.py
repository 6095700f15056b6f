"""Speed of the identities verifier on collapsed-looking data: 10,000 samples, 2,000 of them distinct.

Run with ``pytest benchmarks --benchmark-only``. The workload is 2,000 distinct generated identities, each repeated 5
times and shuffled with a seed, verified one by one on one thread. The task's verdict cache and sympy's own cache are
cleared before every round, so each round pays for 2,000 cold verifications and 8,000 cache hits. The goal is at most
10 s for the 10,000; ``extra_info`` records the seconds and the microseconds per distinct sample.
"""

from __future__ import annotations

import random
from collections import Counter

import pytest
from sympy.core.cache import clear_cache as clear_sympy_cache

from bench.tasks.identities import IdentitiesTask
from benchmarks.conftest import cpu_name, measure, sized

N_DISTINCT = sized(2_000, 100)
REPEATS = 5
SEED = 0
GOAL_SECONDS = 10.0

pytestmark = pytest.mark.benchmark


@pytest.fixture(scope="module")
def workload() -> tuple[IdentitiesTask, list[str]]:
    task = IdentitiesTask()
    # generate() may repeat a string; draw a little more and keep the first N_DISTINCT distinct ones.
    distinct = list(dict.fromkeys(task.generate(N_DISTINCT + N_DISTINCT // 2, SEED)))[:N_DISTINCT]
    assert len(distinct) == N_DISTINCT
    samples = distinct * REPEATS
    random.Random(SEED).shuffle(samples)
    return task, samples


def test_verify_10k_with_2k_distinct(benchmark, workload: tuple[IdentitiesTask, list[str]]) -> None:
    task, samples = workload

    def cold() -> None:
        task.clear_cache()
        clear_sympy_cache()

    def verify_all() -> Counter[str]:
        return Counter(task.verify(text).label for text in samples)

    labels, mean, least = measure(benchmark, verify_all, setup=cold, rounds=3)
    benchmark.extra_info.update(
        device=f"cpu: {cpu_name()}, single-threaded",
        n_samples=len(samples),
        n_distinct=len(set(samples)),
        seconds_10k_mean=mean,
        seconds_10k_min=least,
        microseconds_per_distinct=least / N_DISTINCT * 1e6,
        goal_seconds=GOAL_SECONDS,
    )
    assert labels == Counter({"correct": len(samples)})
    assert task.cache_info().misses == N_DISTINCT  # the cache did its share: one miss per distinct string
