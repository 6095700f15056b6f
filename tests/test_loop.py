"""The core loop (bench/run/loop.py) one step at a time, with the empirical learner: seconds, not minutes.

What a generation trains on (each regime's T_g, built from the previous generation's outputs), how it is split for
early stopping, and that a step writes nothing but the shared generation-0 cache while ``persist`` writes what the
next generation and a resume read back.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from bench.learners import LearnerSetup
from bench.regimes import DataSet
from bench.run.loop import (
    Cell,
    data_set_for,
    fit_split,
    generation_zero_key,
    persist,
    real_data,
    run_generation,
    step,
)
from bench.store.database import Store
from bench.store.parquet import read_parquet
from bench.suite.config import parse_suite
from bench.tasks import get_task

N = 40
SUITE = {
    "suite": "loop",
    "seeds": [0],
    "generations": 3,
    "checkpoints": "none",
    "task": {"name": "logic", "params": {"max_depth": 3}},
    "data": {"size": N},
    "model": {"kind": "empirical"},
    "sampling": {"temperature": 1.0},
    "scenarios": [
        {"name": "replace", "regime": {"kind": "replace"}},
        {"name": "accumulate", "regime": {"kind": "accumulate"}},
        {"name": "fresh_quarter", "regime": {"kind": "fixed_real", "fraction": 0.25, "source": "fresh"}},
        {"name": "subsample", "regime": {"kind": "accumulate_subsample"}},
        {"name": "filtered", "regime": {"kind": "replace"}, "mitigations": [{"name": "verifier_filter"}]},
    ],
}


@pytest.fixture(scope="module")
def accelerator():
    from bench.device import make_accelerator

    return make_accelerator("no")


def make_cell(store_root: Path, accelerator, scenario: str, **changes) -> Cell:
    suite = parse_suite({**SUITE, **changes})
    resolved = {s.name: s for s in suite.resolved_scenarios()}[scenario]
    task = get_task(resolved.task.name, **resolved.task.params)
    setup = LearnerSetup(task=task, training=resolved.training, accelerator=accelerator)
    return Cell("loop-run", suite.suite, resolved, 0, suite.checkpoints, Store(store_root), setup, generations=3)


def test_generation_zero_trains_on_r_and_writes_only_the_shared_cache(tmp_path, accelerator):
    cell = make_cell(tmp_path, accelerator, "replace")
    real = real_data(cell)
    outcome = step(cell, 0, real)
    assert outcome is not None
    assert outcome.data == real.train and set(outcome.data.origins) == {"real"}
    assert len(outcome.samples) == len(outcome.labels) == len(outcome.reasons) == N
    assert set(outcome.labels) <= {"correct", "incorrect", "invalid"}
    assert outcome.selected == outcome.samples and outcome.drops == {}  # replace, no mitigation: all kept
    assert outcome.metrics["data_size"] == N and outcome.metrics["data_real_share"] == 1.0
    assert outcome.metrics["kept_share"] == 1.0
    assert 0.0 <= outcome.metrics["correct"] <= 1.0
    # A step writes nothing of its own; generation 0's learner is published for the scenarios that share it.
    assert not cell.directory(0).exists()
    assert (cell.store.generation_zero_dir(generation_zero_key(cell)) / "fit.json").is_file()
    # Another scenario with the same generation-0 settings loads that learner and samples the same texts.
    again = step(make_cell(tmp_path, accelerator, "accumulate"), 0, real)
    assert again is not None and again.samples == outcome.samples


def test_a_mitigation_selects_what_the_next_generation_trains_on(tmp_path, accelerator):
    cell = make_cell(tmp_path, accelerator, "filtered")
    real = real_data(cell)
    record = run_generation(cell, 0, real)
    assert record is not None
    samples = read_parquet(cell.directory(0) / "samples.parquet")
    selected = list(read_parquet(cell.directory(0) / "selected.parquet")["text"])
    correct = [text for text, label in zip(samples["text"], samples["label"], strict=True) if label == "correct"]
    assert selected == correct
    assert sum(record.drops.values()) == N - len(correct)
    assert record.metrics["kept_share"] == len(correct) / N
    assert set(data_set_for(cell, 1, real.train).texts) <= set(correct)


def run_three(tmp_path: Path, accelerator, scenario: str) -> tuple[Cell, DataSet, list[DataSet], list[list[str]]]:
    """Generations 0 to 2 of one scenario: (cell, R, T_0..T_2, S_0..S_2)."""
    cell = make_cell(tmp_path, accelerator, scenario)
    real = real_data(cell)
    data, selected = [], []
    for generation in range(3):
        outcome = step(cell, generation, real)
        assert outcome is not None
        persist(cell, generation, outcome)
        data.append(outcome.data)
        selected.append(outcome.selected)
    return cell, real.train, data, selected


def shares(data: DataSet) -> dict[str, float]:
    counts = Counter(data.origins)
    return {origin: count / len(data) for origin, count in counts.items()}


def test_replace_trains_each_generation_on_the_last_ones_samples(tmp_path, accelerator):
    _, _, data, selected = run_three(tmp_path, accelerator, "replace")
    for generation in (1, 2):
        assert len(data[generation]) == N and shares(data[generation]) == {"synthetic": 1.0}
        assert set(data[generation].texts) <= set(selected[generation - 1])


def test_accumulate_keeps_everything_before(tmp_path, accelerator):
    _, real, data, selected = run_three(tmp_path, accelerator, "accumulate")
    assert data[1].texts == real.texts + tuple(selected[0])
    assert data[2].texts == data[1].texts + tuple(selected[1])
    assert [len(d) for d in data] == [N, 2 * N, 3 * N]
    assert shares(data[2]) == {"real": 1 / 3, "synthetic": 2 / 3}


def test_fixed_real_from_fresh_data_mixes_a_quarter_of_new_real_samples(tmp_path, accelerator):
    _, real, data, selected = run_three(tmp_path, accelerator, "fresh_quarter")
    for generation in (1, 2):
        assert len(data[generation]) == N
        assert shares(data[generation]) == {"fresh": 0.25, "synthetic": 0.75}
        synthetic = [t for t, o in zip(data[generation].texts, data[generation].origins, strict=True) if o != "fresh"]
        assert set(synthetic) <= set(selected[generation - 1])
    fresh = [[t for t, o in zip(d.texts, d.origins, strict=True) if o == "fresh"] for d in data[1:]]
    assert fresh[0] != fresh[1]  # new draws each generation, from a seed of their own


def test_accumulate_subsample_draws_from_r_and_every_selection(tmp_path, accelerator):
    _, real, data, selected = run_three(tmp_path, accelerator, "subsample")
    assert len(data[1]) == len(data[2]) == N
    assert set(data[1].texts) <= set(real.texts) | set(selected[0])
    assert set(data[2].texts) <= set(real.texts) | set(selected[0]) | set(selected[1])


def test_a_resumed_cell_reads_back_the_same_data_set(tmp_path, accelerator):
    """What a generation kept in memory for the next one is what a resume (a new cell) reads from the store."""
    cell, real, data, _ = run_three(tmp_path, accelerator, "accumulate")
    resumed = make_cell(tmp_path, accelerator, "accumulate")
    assert resumed.carried is None and resumed.history == []
    assert data_set_for(resumed, 2, real) == data[2]
    stored = read_parquet(cell.directory(2) / "data.parquet")
    assert tuple(stored["text"]) == data[2].texts and tuple(stored["origin"]) == data[2].origins


@pytest.mark.parametrize("policy", ["items", "strings"])
def test_the_split_sides_partition_the_data_set_and_are_stored(tmp_path, accelerator, policy):
    training = {"validation": policy}
    cell = make_cell(tmp_path, accelerator, "replace", training=training)
    real = real_data(cell)
    split = fit_split(cell, 0, real.train, real)
    assert len(split.sides) == N
    held = [t for t, side in zip(real.train.texts, split.sides, strict=True) if side]
    kept = [t for t, side in zip(real.train.texts, split.sides, strict=True) if not side]
    assert split.validation == held and split.train == kept and held and kept
    if policy == "items":
        assert len(held) == round(cell.scenario.data.validation_fraction * N)
    else:
        assert not set(held) & set(kept)  # no string on both sides
    assert fit_split(cell, 0, real.train, real) == split  # seeded
    outcome = step(cell, 0, real)
    assert outcome is not None and outcome.sides == split.sides
    persist(cell, 0, outcome)
    stored = read_parquet(cell.directory(0) / "data.parquet")
    assert list(stored["split"]) == ["validation" if side else "train" for side in split.sides]


def test_real_validation_trains_on_all_of_the_data_set(tmp_path, accelerator):
    model = {"kind": "empirical", "fit_on": "train"}  # fit_on all would add V* to T_g: refused
    cell = make_cell(tmp_path, accelerator, "replace", training={"validation": "real"}, model=model)
    real = real_data(cell)
    split = fit_split(cell, 0, real.train, real)
    assert split.train == list(real.train.texts) and split.validation == real.validation
    assert split.sides == [False] * N and real.validation and not set(real.validation) & set(real.test)
