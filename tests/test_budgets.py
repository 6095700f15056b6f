"""Training budgets: ``max_iters`` and ``max_epochs`` (whichever ends first), ``epochs_trained``, and the real-data
NLL split by whether T*'s strings are in R."""

from __future__ import annotations

import math

import pytest
from conftest import MICRO, write_suite

from bench.learners.transformer.train import step_budget
from bench.metrics import higher_is_better
from bench.run.sequential import run_suite
from bench.store.database import Store
from bench.suite.config import SuiteError, load_suite, parse_suite


def test_the_step_budget_is_the_smaller_of_the_two():
    assert step_budget(5000, None, 10, 16) == 5000
    assert step_budget(5000, 2.0, 80, 16) == 10  # 2 passes over 80 blocks at 16 a step
    assert step_budget(5000, 0.5, 81, 16) == math.ceil(0.5 * 81 / 16)
    assert step_budget(7, 100.0, 80, 16) == 7
    assert step_budget(5000, 1e-6, 80, 16) == 1  # at least one step


def test_max_epochs_must_be_positive():
    with pytest.raises(SuiteError, match="max_epochs"):
        parse_suite({**MICRO, "training": {**MICRO["training"], "max_epochs": 0}})


def test_new_metrics_declare_their_direction():
    assert higher_is_better("real_nll_seen") is False
    assert higher_is_better("real_nll_unseen") is False
    assert higher_is_better("epochs_trained") is None


def _run(tmp_path, training: dict) -> tuple[dict[tuple[int, str], float], dict[int, int]]:
    data = {
        **MICRO,
        "seeds": [0],
        "generations": 2,
        "training": {**MICRO["training"], **training},
        "scenarios": [{"name": "replace", "regime": {"kind": "replace"}}],
    }
    path = write_suite(tmp_path / "s.yaml", data)
    summary = run_suite(load_suite(path), path, tmp_path / "results", show_progress=False)
    assert summary.finished
    rows = Store(tmp_path / "results").metric_rows(summary.run_id)
    values = {(r.generation, r.metric): r.value for r in rows}
    with Store(tmp_path / "results").connect(read_only=True) as con:
        query = "SELECT generation, train_iterations FROM generations WHERE run_id = ?"
        iterations = dict(con.execute(query, [summary.run_id]).fetchall())
    return values, iterations


def test_max_epochs_stops_training_first_and_epochs_trained_is_recorded(tmp_path):
    # MICRO: 120 items, 12 held out, ~108 short samples packed into 64-token blocks (a handful of blocks), 4 a step:
    # one epoch is one or two steps, far below max_iters = 16.
    values, iterations = _run(tmp_path, {"max_epochs": 1.0, "patience": 100})
    for g in (0, 1):
        assert iterations[g] < 16
        assert 1.0 <= values[(g, "epochs_trained")] < 1.0 + 4 / 2  # ceil: at most one step past one epoch


def test_without_max_epochs_the_fixed_step_budget_runs(tmp_path):
    values, iterations = _run(tmp_path, {"patience": 100})
    assert iterations[0] == 16
    assert values[(0, "epochs_trained")] > 1.0


def test_real_nll_is_split_into_seen_and_unseen_strings(tmp_path):
    values, _ = _run(tmp_path, {})
    for g in (0, 1):
        assert {"real_nll", "real_nll_seen", "real_nll_unseen"} <= {m for (gen, m) in values if gen == g}
        low, high = sorted((values[(g, "real_nll_seen")], values[(g, "real_nll_unseen")]))
        # real_nll is the token-weighted mean of the two parts, so it lies between them
        assert low - 1e-9 <= values[(g, "real_nll")] <= high + 1e-9
