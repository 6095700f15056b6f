"""The split against a closed form: the empirical learner fitted on the training part only (``fit_on: train``).

Under ``replace`` at temperature 1 with the ``items`` split, each generation keeps a uniform subsample of
n = N − round(fN) of its N items (hypergeometric) and draws N from it with replacement. Two distinct items of the
subsample are two distinct items of T_g, so the Gini–Simpson index H of the training part has expectation
(n − 1)/n · N/(N − 1) · H(T_g); the multinomial draw multiplies by (1 − 1/N), which cancels N/(N − 1). Hence
E[H(S_g)] = H_0 · (1 − 1/n)^(g+1): the split shrinks the Wright–Fisher population from N to n (docs/design.md §3).

200 seeds, N = 50, f = 0.2 (n = 40), 10 generations; every generation must agree within 4 standard errors, and the
same check must reject the curve of the learner fitted on all of T_g, (1 − 1/N)^(g+1) (the negative control).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.metrics import gini_simpson
from bench.run.sequential import run_suite
from bench.seeding import derive_seed
from bench.store.database import Store
from bench.suite.config import parse_suite
from bench.tasks import get_task

N = 50
FRACTION = 0.2
N_TRAIN = N - round(FRACTION * N)
SEEDS = list(range(200))
GENERATIONS = 10
TASK = {"name": "logic", "params": {"min_depth": 1, "max_depth": 5}}


def split_oracle_suite() -> dict:
    return {
        "suite": "oracle_split_test",
        "seeds": SEEDS,
        "generations": GENERATIONS,
        "checkpoints": "none",
        "task": TASK,
        "data": {"size": N, "validation_fraction": FRACTION},
        "model": {"kind": "empirical", "fit_on": "train"},
        "training": {"validation": "items"},
        "sampling": {"temperature": 1.0},
        "scenarios": [{"name": "replace", "regime": {"kind": "replace"}}],
    }


@pytest.fixture(scope="module")
def simpson(tmp_path_factory) -> np.ndarray:
    """H(S_g) per (seed, generation) of one run of the suite."""
    root = tmp_path_factory.mktemp("oracle_split")
    suite_file = root / "oracle_split.yaml"
    suite_file.write_text("# written by the test\n")
    summary = run_suite(parse_suite(split_oracle_suite()), suite_file, root / "results", show_progress=False)
    assert summary.finished
    table = np.full((len(SEEDS), GENERATIONS), np.nan)
    for row in Store(root / "results").metric_rows(summary.run_id):
        if row.metric == "simpson_diversity":
            table[row.seed, row.generation] = row.value
    assert not np.isnan(table).any()
    return table


def real_simpson() -> np.ndarray:
    task = get_task(TASK["name"], **TASK["params"])
    return np.array([gini_simpson(task.generate(N, seed=derive_seed(seed, "real"))) for seed in SEEDS])


def deviation(observed: np.ndarray, h0: np.ndarray, population: int) -> np.ndarray:
    """Per generation: (mean over seeds of H(S_g) − H_0(1 − 1/population)^(g+1)) / its standard error."""
    expected = h0[:, None] * (1.0 - 1.0 / population) ** (np.arange(GENERATIONS) + 1)
    diff = observed - expected
    return diff.mean(axis=0) / (diff.std(axis=0, ddof=1) / math.sqrt(len(SEEDS)))


@pytest.mark.slow
def test_fit_on_train_with_the_item_split_is_wright_fisher_with_n_train(simpson):
    z = deviation(simpson, real_simpson(), N_TRAIN)
    assert np.all(np.abs(z) < 4.0), z


@pytest.mark.slow
def test_the_check_rejects_the_curve_that_ignores_the_split(simpson):
    """Negative control: the all-of-T_g curve (population N) is rejected on the same runs."""
    z = deviation(simpson, real_simpson(), N)
    assert np.any(np.abs(z) >= 4.0), z
