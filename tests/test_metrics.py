"""Metrics: hand-computed cases for every function and an exact all-pairs reference for diversity."""

from __future__ import annotations

import gzip
import math
import random
import zlib

import pytest
from conftest import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from bench import metrics as m
from bench.metrics import (
    METRICS,
    Metric,
    compression_ratio,
    depth_stats,
    distinct_n,
    diversity_levenshtein,
    gini_simpson,
    js_divergence_lengths,
    length_stats,
    memorized,
    ngram_diversity,
    novelty,
    score_samples,
    tokens_as_chars,
    unique_count,
    unique_ratio,
    verdict_shares,
)
from bench.registry import UnknownNameError

# ---------------------------------------------------------------------------------------------
# A naive reference: textbook DP on token lists over every pair, in pure Python.


def _lev(a: list[str], b: list[str]) -> int:
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def _naive_diversity(samples: list[str]) -> float:
    toks = [s.split() for s in samples]
    pairs = [(i, j) for i in range(len(toks)) for j in range(i + 1, len(toks))]
    if not pairs:
        return 0.0
    total = 0.0
    for i, j in pairs:
        longest = max(len(toks[i]), len(toks[j]))
        total += _lev(toks[i], toks[j]) / longest if longest else 0.0
    return total / len(pairs)


# ---------------------------------------------------------------------------------------------
# Correctness shares


def test_verdict_shares_hand_computed() -> None:
    shares = verdict_shares(["correct", "correct", "invalid", "incorrect"])
    assert shares == {"correct": 0.5, "incorrect": 0.25, "invalid": 0.25}
    assert sum(shares.values()) == 1.0


def test_verdict_shares_empty_is_zeros() -> None:
    assert verdict_shares([]) == {"correct": 0.0, "incorrect": 0.0, "invalid": 0.0}


def test_verdict_shares_rejects_unknown_label() -> None:
    with pytest.raises(ValueError, match="maybe"):
        verdict_shares(["correct", "maybe"])


# ---------------------------------------------------------------------------------------------
# Levenshtein diversity


@pytest.mark.parametrize(
    ("samples", "expected"),
    [
        (["True", "False"], 1.0),
        (["True and True", "True"], 2 / 3),  # two deletions / longer length 3
        (["True and False", "True or False"], 1 / 3),  # one substitution / 3
        (["True", "True", "False"], 2 / 3),  # pairs: 0, 1, 1
        (["( True )", "True"], 2 / 3),
        (["", ""], 0.0),  # two empties count 0
        (["", "True"], 1.0),  # one insertion / 1
        (["True"], 0.0),  # fewer than two samples
        ([], 0.0),
        (["True  and\tTrue", "True and True"], 0.0),  # whitespace tokens, not characters
    ],
)
def test_diversity_hand_computed(samples: list[str], expected: float) -> None:
    assert diversity_levenshtein(samples) == pytest.approx(expected, abs=1e-12)


def test_diversity_matches_naive_on_seeded_random_files() -> None:
    rng = random.Random(1234)
    vocab = ["True", "False", "and", "or", "not", "(", ")"]
    for _ in range(5):
        pool = [" ".join(rng.choice(vocab) for _ in range(rng.randint(0, 9))) for _ in range(40)]
        samples = [rng.choice(pool) for _ in range(150)] + ["", ""]  # many duplicates and empties
        rng.shuffle(samples)
        expected = _naive_diversity(samples)
        assert abs(diversity_levenshtein(samples) - expected) < 1e-9
        # Small chunks cross the diagonal blocks: the chunking must not change the sum.
        assert abs(diversity_levenshtein(samples, chunk_rows=7) - expected) < 1e-9


@settings(max_examples=examples(150), deadline=None)
@given(
    st.lists(
        st.lists(st.sampled_from(["True", "False", "and", "or", "not", "(", ")"]), max_size=7).map(" ".join),
        max_size=25,
    ),
    st.integers(min_value=1, max_value=6),
)
def test_diversity_matches_naive_property(samples: list[str], chunk_rows: int) -> None:
    got = diversity_levenshtein(samples, chunk_rows=chunk_rows)
    assert abs(got - _naive_diversity(samples)) < 1e-9


def test_tokens_as_chars_shares_one_map() -> None:
    a, b, c = tokens_as_chars(["True and True", "True", ""])
    assert len(a) == 3 and a[0] == a[2] == b and a[1] != a[0]
    assert c == ""


def test_code_points_skip_surrogates() -> None:
    assert m._code_point(0xD7FF) == chr(0xD7FF)
    assert m._code_point(0xD800) == chr(0xE000)
    with pytest.raises(ValueError):
        m._code_point(m._MAX_TOKENS)


def test_normalized_levenshtein_rows() -> None:
    enc = tokens_as_chars(["True and True", "True", ""])
    rows = m.normalized_levenshtein_rows(enc[:2], enc)
    assert rows.tolist() == [[0.0, 2 / 3, 1.0], [2 / 3, 0.0, 1.0]]
    assert m.normalized_levenshtein_rows(enc[2:], enc[2:]).tolist() == [[0.0]]


# ---------------------------------------------------------------------------------------------
# Counting diversity


def test_unique_count_and_ratio() -> None:
    assert unique_count(["a", "a", "b"]) == 2
    assert unique_ratio(["a", "a", "b"]) == pytest.approx(2 / 3)
    assert unique_count([]) == 0
    assert unique_ratio([]) == 0.0


def test_distinct_n_hand_computed() -> None:
    samples = ["True and True", "True"]
    assert distinct_n(samples, 1) == 0.5  # {True, and} / 4 tokens
    assert distinct_n(samples, 2) == 1.0  # (True and), (and True)
    assert distinct_n(samples, 3) == 1.0
    assert distinct_n(samples, 4) == 0.0  # no 4-grams: n-grams do not cross samples
    assert distinct_n(["a b", "a b"], 2) == 0.5
    assert distinct_n([], 1) == 0.0
    with pytest.raises(ValueError):
        distinct_n(samples, 0)


# ---------------------------------------------------------------------------------------------
# diversity 0.3.1 scores


def test_compression_ratio_rebuilds_the_package_bytes() -> None:
    samples = ["True and True", "True or False", "True and True"]
    data = " ".join(samples).encode("utf-8")
    inner = gzip.compress(data, mtime=0)
    # Outer gzip: 10-byte header + "compressed\0" file name + raw deflate + 8-byte trailer.
    outer_size = 10 + len(b"compressed\0") + len(zlib.compress(inner, 9, wbits=-15)) + 8
    assert compression_ratio(samples) == round(len(data) / outer_size, 3)


def test_compression_ratio_pinned_values() -> None:
    # diversity 0.3.1 gives 0.161 or 0.164 here depending on the clock (gzip timestamps); with mtime=0 it is fixed.
    assert compression_ratio(["True", "False"]) == 0.172
    assert compression_ratio([]) == 0.0
    assert compression_ratio(["True and True"] * 400) > compression_ratio(["True", "False"])


def test_compression_ratio_does_not_depend_on_the_clock(monkeypatch) -> None:
    import time

    first = compression_ratio(["True and False", "not True"])
    monkeypatch.setattr(time, "time", lambda: 4_000_000_000.0)
    assert compression_ratio(["True and False", "not True"]) == first


def test_ngram_diversity_hand_computed() -> None:
    # Joined stream: True and True or False -> 4/5 + 4/4 + 3/3 + 2/2.
    assert ngram_diversity(["True and True", "or False"]) == 3.8
    # n-grams cross the sample boundary: "a a b" -> 2/3 + 2/2 + 1/1, rounded to 3 places.
    assert ngram_diversity(["a", "a b"]) == 2.667
    # Too short for 3- and 4-grams: those terms count 0 (the package would divide by zero).
    assert ngram_diversity(["True", "True"]) == 1.5
    # Empty samples add empty tokens, as the package's split(" ") does: "a  b" -> a, '', b.
    assert ngram_diversity(["a", "", "b"]) == 3.0
    assert ngram_diversity([]) == 0.0


# ---------------------------------------------------------------------------------------------
# Novelty and memorization


def test_novelty_and_memorized() -> None:
    samples = ["a", "b", "c", "a"]
    assert novelty(samples, ["a"]) == 0.5
    assert memorized(samples, ["a", "c"]) == 0.75
    assert novelty([], ["a"]) == 0.0
    assert memorized([], ["a"]) == 0.0


# ---------------------------------------------------------------------------------------------
# Shape statistics


def test_length_stats() -> None:
    mean, var = length_stats(["True", "True and True", "not ( True )"])  # lengths 1, 3, 4
    assert mean == pytest.approx(8 / 3)
    assert var == pytest.approx(14 / 9)
    assert length_stats([]) == (0.0, 0.0)


def test_depth_stats_skip_invalid() -> None:
    depths = {"a": 1, "b": 3, "bad": None}
    assert depth_stats(["a", "b", "bad", "b"], depths.get) == (pytest.approx(7 / 3), pytest.approx(8 / 9))
    assert depth_stats(["bad"], depths.get) == (0.0, 0.0)


def test_js_divergence_lengths() -> None:
    assert js_divergence_lengths(["a", "b c"], ["d e", "f"]) == 0.0  # same length distribution
    assert js_divergence_lengths(["a"], ["b c"]) == 1.0  # disjoint supports
    # P = {1: 1}, Q = {1: 1/2, 3: 1/2}, M = {1: 3/4, 3: 1/4}.
    expected = 0.5 * math.log2(4 / 3) + 0.5 * (0.5 * math.log2(2 / 3) + 0.5 * math.log2(2))
    assert js_divergence_lengths(["a", "b"], ["c", "d e f"]) == pytest.approx(expected, abs=1e-12)
    assert js_divergence_lengths([], ["a"]) == 0.0


# ---------------------------------------------------------------------------------------------
# Registry and aggregate

BASE_KEYS = {
    "n",
    "correct",
    "incorrect",
    "invalid",
    "diversity_levenshtein",
    "unique_count",
    "unique_ratio",
    "distinct_1",
    "distinct_2",
    "distinct_3",
    "distinct_4",
    "compression_ratio",
    "ngram_diversity",
    "length_mean",
    "length_var",
    "depth_mean",
    "depth_var",
    "simpson_diversity",
}


def test_registry_declares_every_metric() -> None:
    computed = {name for name in METRICS if METRICS.get(name).compute is not None}
    # only for tasks with meaning (and trivial samples: identities)
    semantic = {"semantic_unique", "semantic_entropy", "semantic_novelty", "semantic_unique_at_k", "trivial_share"}
    assert computed == BASE_KEYS | {"novelty", "js_divergence_length", "memorized"} | semantic
    declared = set(METRICS.names()) - computed
    assert {"val_loss", "kept_share", "data_size", "data_real_share", "data_synthetic_share"} <= declared
    assert METRICS.get("val_loss").higher_is_better is False
    for name in METRICS:
        metric = METRICS.get(name)
        assert isinstance(metric, Metric) and metric.name == name and metric.description
        assert metric.higher_is_better in (True, False, None)
    assert METRICS.get("n").higher_is_better is None
    assert METRICS.get("diversity_levenshtein").higher_is_better is True
    assert METRICS.get("compression_ratio").higher_is_better is False
    with pytest.raises(UnknownNameError, match="novelty"):
        METRICS.get("novelti")


def test_score_samples_hand_computed() -> None:
    samples = ["True", "True and True", "bad ("]
    labels = ["correct", "correct", "invalid"]
    depths = [1, 2, None]
    scores = score_samples(samples, labels, depths)
    assert set(scores) == BASE_KEYS
    assert next(iter(scores)) == "n"
    assert all(isinstance(v, float) for v in scores.values())
    assert scores["n"] == 3.0
    assert scores["correct"] == pytest.approx(2 / 3) and scores["invalid"] == pytest.approx(1 / 3)
    # Pairs: 2/3, 2/2 (True vs bad ( ), 3/3 -> mean 8/9.
    assert scores["diversity_levenshtein"] == pytest.approx((2 / 3 + 1 + 1) / 3)
    assert scores["unique_count"] == 3.0
    assert scores["depth_mean"] == 1.5 and scores["depth_var"] == 0.25
    assert scores["length_mean"] == 2.0

    full = score_samples(samples, labels, depths, reference=["True", "False"], training=["True and True"])
    assert set(full) == BASE_KEYS | {"novelty", "js_divergence_length", "memorized"}
    assert full["novelty"] == pytest.approx(2 / 3)
    assert full["memorized"] == pytest.approx(1 / 3)
    assert 0.0 < full["js_divergence_length"] <= 1.0


def test_score_samples_empty_and_mismatch() -> None:
    scores = score_samples([], [], [])
    assert scores["n"] == 0.0 and scores["diversity_levenshtein"] == 0.0
    with pytest.raises(ValueError, match="verdicts"):
        score_samples(["True"], [], [1])
    with pytest.raises(ValueError, match="depths"):
        score_samples(["True"], ["correct"], [])


def test_gini_simpson_hand_computed() -> None:
    assert gini_simpson([]) == 0.0
    assert gini_simpson(["a"] * 4) == 0.0
    assert gini_simpson(["a", "b"]) == pytest.approx(0.5)
    assert gini_simpson(["a", "a", "b", "c"]) == pytest.approx(1 - (0.25 + 0.0625 + 0.0625))


def test_loop_numbers_declare_their_direction_once() -> None:
    from bench.metrics import higher_is_better

    assert higher_is_better("real_nll") is False and higher_is_better("real_ppl") is False
    assert higher_is_better("simpson_diversity") is True
    assert higher_is_better("kept_share") is None
    with pytest.raises(UnknownNameError):
        higher_is_better("no_such_metric")
