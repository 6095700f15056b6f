"""The own split: every distinct string on one side only, seeded, sized like the study's 10%."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.regimes import DataSet
from bench.run.splits import own_split


def data(texts: list[str]) -> DataSet:
    return DataSet.of(texts, "real")


def test_no_string_on_both_sides_and_nothing_lost():
    texts = [f"u{i}" for i in range(200)] + ["a"] * 50 + ["b"] * 50
    train, validation = own_split(data(texts), 0.1, random.Random(0))
    assert not set(train) & set(validation)
    assert sorted(train + validation) == sorted(texts)
    assert own_split(data(texts), 0.1, random.Random(0)) == (train, validation)


def test_the_same_share_of_strings_is_held_out_at_every_frequency():
    """Rare strings are not preferred: a budget filled with whole strings would hold out every singleton here."""
    texts = [f"rare{i}" for i in range(40)] + [f"common{i}" for i in range(40) for _ in range(20)]
    held_rare, held_common = [], []
    for seed in range(300):
        _, validation = own_split(data(texts), 0.1, random.Random(seed))
        held = set(validation)
        held_rare.append(sum(t.startswith("rare") for t in held))
        held_common.append(sum(t.startswith("common") for t in held))
    assert sum(held_rare) / 300 == pytest.approx(4.0, abs=0.3)  # 10% of 40 rare strings
    assert sum(held_common) / 300 == pytest.approx(4.0, abs=0.3)  # and 10% of 40 common ones


def test_validation_is_the_fraction_of_items_in_expectation():
    texts = [f"s{i % 37}" for i in range(1000)] + [f"t{i}" for i in range(300)]
    shares = [len(own_split(data(texts), 0.1, random.Random(seed))[1]) / len(texts) for seed in range(200)]
    assert sum(shares) / len(shares) == pytest.approx(0.1, abs=0.01)


def test_sides_keep_the_data_set_order():
    texts = [f"s{i}" for i in range(30)]
    train, validation = own_split(data(texts), 0.3, random.Random(1))
    assert train == [t for t in texts if t in set(train)]
    assert validation == [t for t in texts if t in set(validation)]


def test_too_few_strings_for_the_fraction_still_give_both_sides():
    texts = ["a"] * 6 + ["b"] * 4  # 10% of one string per stratum rounds to 0 or 1: at least one is held out
    train, validation = own_split(data(texts), 0.1, random.Random(0))
    assert train and validation and not set(train) & set(validation)


def test_a_fully_collapsed_data_set_holds_out_one_copy():
    train, validation = own_split(data(["x"] * 5), 0.1, random.Random(0))
    assert validation == ["x"] and train == ["x"] * 4


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([f"t{i}" for i in range(15)]), min_size=2, max_size=60), st.integers(0, 10**6))
def test_split_properties(texts, seed):
    train, validation = own_split(data(texts), 0.1, random.Random(seed))
    assert sorted(train + validation) == sorted(texts)
    assert train and validation
    if len(set(texts)) >= 2:
        assert not set(train) & set(validation)
