"""The own split: every distinct string on one side only, seeded, sized like the study's 10%."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from bench.regimes import DataSet
from bench.splits import own_split


def data(texts: list[str]) -> DataSet:
    return DataSet.of(texts, "real")


def test_no_string_on_both_sides_and_nothing_lost():
    texts = ["a"] * 5 + ["b"] * 3 + [f"u{i}" for i in range(12)]  # 20 items, 10% = 2
    train, validation = own_split(data(texts), 0.1, random.Random(0))
    assert not set(train) & set(validation)
    assert sorted(train + validation) == sorted(texts)
    assert len(validation) == 2  # two singletons, or... never "a" (5) or "b" (3): they do not fit the budget
    assert own_split(data(texts), 0.1, random.Random(0)) == (train, validation)


def test_sides_keep_the_data_set_order():
    texts = [f"s{i}" for i in range(10)]
    train, validation = own_split(data(texts), 0.3, random.Random(1))
    assert train == [t for t in texts if t in set(train)]
    assert validation == [t for t in texts if t in set(validation)]


def test_frequent_strings_only_still_give_both_sides():
    texts = ["a"] * 6 + ["b"] * 4  # budget 1: nothing fits, the rarest string is held out
    train, validation = own_split(data(texts), 0.1, random.Random(0))
    assert validation == ["b"] * 4 and train == ["a"] * 6


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
