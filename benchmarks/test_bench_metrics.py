"""Speed of the exact all-pairs diversity metric and of diversity_select, next to a naive loop.

Run with ``pytest benchmarks --benchmark-only``; each benchmark writes its key numbers to
``benchmark.extra_info`` (seconds for 10,000 samples, the naive/ours ratio on a 300-sample subset).
"""

from __future__ import annotations

import random
import time

import pytest
from rapidfuzz.distance import Levenshtein

from bench.metrics import diversity_levenshtein
from bench.mitigations.base import MitigationContext
from bench.mitigations.diversity_select import DiversitySelect
from benchmarks.conftest import measure, sized

N_SAMPLES = sized(10_000, 400)
N_SUBSET = sized(300, 40)
SEED = 0

pytestmark = pytest.mark.benchmark


def _local_expression(rng: random.Random, depth: int) -> str:
    """A random Boolean expression of depth <= ``depth`` (fallback when the logic task is absent)."""
    if depth <= 1 or rng.random() < 0.3:
        return rng.choice(["True", "False"])
    draw = rng.random()
    if draw < 0.2:
        return "not " + _local_expression(rng, depth - 1)
    if draw < 0.35:
        return "( " + _local_expression(rng, depth - 1) + " )"
    operator = rng.choice([" and ", " or "])
    return _local_expression(rng, depth - 1) + operator + _local_expression(rng, depth - 1)


def _generate(n: int, seed: int) -> tuple[list[str], str]:
    """``n`` samples of depth <= 5 from the logic task if it is there, else from the local generator."""
    try:
        from bench.tasks.logic import LogicTask
    except ImportError:
        rng = random.Random(seed)
        return [_local_expression(rng, 5) for _ in range(n)], "local generator"
    return LogicTask().generate(n, seed), "LogicTask"


def naive_diversity(samples: list[str]) -> float:
    """The obvious loop: every pair, rapidfuzz Levenshtein on token lists, in Python."""
    tokens = [s.split() for s in samples]
    total, pairs = 0.0, 0
    for i in range(len(tokens)):
        for j in range(i + 1, len(tokens)):
            longest = max(len(tokens[i]), len(tokens[j]))
            total += Levenshtein.distance(tokens[i], tokens[j]) / longest if longest else 0.0
            pairs += 1
    return total / pairs if pairs else 0.0


@pytest.fixture(scope="module")
def samples() -> tuple[list[str], str]:
    return _generate(N_SAMPLES, SEED)


def _describe(benchmark, data: list[str], source: str) -> None:
    benchmark.extra_info.update(n_samples=len(data), n_distinct=len(set(data)), generator=source)


def test_diversity_exact_10k(benchmark, samples: tuple[list[str], str]) -> None:
    data, source = samples
    value, mean, least = measure(benchmark, diversity_levenshtein, args=(data,), rounds=3)
    _describe(benchmark, data, source)
    benchmark.extra_info.update(
        n_pairs=len(data) * (len(data) - 1) // 2,
        diversity=value,
        seconds_10k_mean=mean,
        seconds_10k_min=least,
    )
    assert 0.0 < value < 1.0


@pytest.mark.benchmark(group="diversity_300")
def test_diversity_naive_subset(benchmark, samples: tuple[list[str], str]) -> None:
    data = samples[0][:N_SUBSET]
    value, mean, _ = measure(benchmark, naive_diversity, args=(data,), rounds=3)
    _describe(benchmark, data, samples[1])
    benchmark.extra_info.update(diversity=value, seconds_naive_mean=mean)


@pytest.mark.benchmark(group="diversity_300")
def test_diversity_ours_subset(benchmark, samples: tuple[list[str], str]) -> None:
    data = samples[0][:N_SUBSET]
    value, _, ours = measure(benchmark, diversity_levenshtein, args=(data,), rounds=5)
    # The naive loop timed right here too, so the ratio lives in one record.
    naive_times = []
    for _ in range(3):
        start = time.perf_counter()
        naive_value = naive_diversity(data)
        naive_times.append(time.perf_counter() - start)
    _describe(benchmark, data, samples[1])
    benchmark.extra_info.update(
        diversity=value,
        seconds_ours_min=ours,
        seconds_naive_min=min(naive_times),
        ratio_naive_over_ours=min(naive_times) / ours,
    )
    assert abs(value - naive_value) < 1e-9


def test_diversity_select_10k_keep_half(benchmark, samples: tuple[list[str], str]) -> None:
    data, source = samples
    method = DiversitySelect(keep_count=N_SAMPLES // 2)
    context = MitigationContext(verify=lambda s: None, seed=SEED)  # type: ignore[arg-type, return-value]
    selection, seconds, _ = measure(benchmark, method.select, args=(data, context))
    _describe(benchmark, data, source)
    benchmark.extra_info.update(kept=len(selection.kept), seconds_select=seconds, dropped=selection.dropped)
    assert len(selection.kept) == min(N_SAMPLES // 2, len(set(data)))
