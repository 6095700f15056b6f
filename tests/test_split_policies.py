"""The three validation policies (``training.validation``): what each holds out, and that a run records it."""

from __future__ import annotations

import random
from collections import Counter

import pyarrow.parquet as pq
import pytest
from conftest import MICRO, write_suite

from bench.regimes import DataSet
from bench.run.sequential import run_suite
from bench.run.splits import item_sides, own_split, string_sides
from bench.suite.config import SuiteError, load_suite, parse_suite


def test_the_item_split_holds_out_exactly_round_f_n_items_and_is_seeded():
    for n in (10, 11, 99, 1000):
        sides = item_sides(n, 0.1, random.Random(3))
        assert sum(sides) == round(0.1 * n)
        assert sides == item_sides(n, 0.1, random.Random(3))
    assert item_sides(1000, 0.1, random.Random(3)) != item_sides(1000, 0.1, random.Random(4))


def test_the_item_split_is_uniform_over_items():
    """Each item is held out with probability f: over 4,000 splits of 20 items, every position within 5 SE."""
    n, f, trials = 20, 0.25, 4000
    counts = [0] * n
    rng = random.Random(0)
    for _ in range(trials):
        for i, held in enumerate(item_sides(n, f, rng)):
            counts[i] += held
    se = (f * (1 - f) / trials) ** 0.5
    assert all(abs(c / trials - f) < 5 * se for c in counts), counts


def test_a_dominant_string_is_never_held_out_whole_by_the_item_split():
    """999 copies of A and one of B: the string split sends all of A to validation in some seeds; the item split
    keeps 900 of A's copies (or 899 and B) in training every time."""
    data = DataSet.of(["A"] * 999 + ["B"], "real")
    whole_a_held_out = 0
    for seed in range(200):
        sides = item_sides(len(data), 0.1, random.Random(seed))
        train = Counter(t for t, held in zip(data.texts, sides, strict=True) if not held)
        assert train["A"] >= 899 and sum(train.values()) == 900
        string_split = string_sides(data, 0.1, random.Random(seed))
        string_train = Counter(t for t, h in zip(data.texts, string_split, strict=True) if not h)
        whole_a_held_out += string_train["A"] == 0
    assert whole_a_held_out > 0  # the failure the item split removes


def test_string_sides_are_the_string_split():
    texts = ["a", "b", "a", "c", "d", "e", "b", "f", "g", "h", "i", "j"] * 3
    data = DataSet.of(texts, "real")
    sides = string_sides(data, 0.3, random.Random(5))
    train, validation = own_split(data, 0.3, random.Random(5))
    assert [t for t, h in zip(texts, sides, strict=True) if not h] == train
    assert [t for t, h in zip(texts, sides, strict=True) if h] == validation
    collapsed = DataSet.of(["x"] * 5, "real")
    assert string_sides(collapsed, 0.1, random.Random(0)) == [True, False, False, False, False]


def test_an_old_suite_with_early_stopping_gets_one_line_naming_the_new_setting():
    for value in ("own", "real"):
        with pytest.raises(SuiteError) as caught:
            parse_suite({**MICRO, "training": {**MICRO["training"], "early_stopping": value}})
        message = str(caught.value)
        assert "\n" not in message and "training.validation" in message and "early_stopping" in message


def test_the_validate_command_refuses_early_stopping_with_exit_2(tmp_path, capsys):
    from bench.cli.main import main

    path = write_suite(tmp_path / "old.yaml", {**MICRO, "training": {**MICRO["training"], "early_stopping": "own"}})
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "training.validation" in err


def test_empirical_fit_on_all_with_real_validation_is_refused():
    data = {**MICRO, "model": {"kind": "empirical"}, "training": {"validation": "real"}}
    with pytest.raises(SuiteError, match="fit_on"):
        parse_suite(data)
    parse_suite({**data, "model": {"kind": "empirical", "fit_on": "train"}})


@pytest.mark.parametrize("policy", ["items", "strings", "real"])
def test_each_generation_records_every_item_side(tmp_path, policy):
    data = {
        **MICRO,
        "seeds": [2],
        "generations": 4,
        "data": {"size": 200},
        "model": {"kind": "empirical", "fit_on": "train"},
        "training": {"validation": policy},
        "sampling": {"temperature": 0.6},  # concentrates the data sets within a few generations
        "scenarios": [{"name": "replace", "regime": {"kind": "replace"}}],
    }
    path = write_suite(tmp_path / "s.yaml", data)
    summary = run_suite(load_suite(path), path, tmp_path / "results", show_progress=False)
    assert summary.finished
    files = sorted((tmp_path / "results").rglob("gen-*/data.parquet"))
    assert len(files) == 4
    for file in files:
        table = pq.read_table(file).to_pydict()
        assert set(table["split"]) <= {"train", "validation"} and len(table["split"]) == 200
        held = table["split"].count("validation")
        if policy == "items":
            assert held == 20
            counts = Counter(table["text"])
            trained = Counter(t for t, s in zip(table["text"], table["split"], strict=True) if s == "train")
            assert all(trained[t] > 0 for t, c in counts.items() if c >= 20)  # no frequent string left out
        elif policy == "real":
            assert held == 0
