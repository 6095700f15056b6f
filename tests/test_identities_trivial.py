"""Trivial identities (both sides one tree, or the left side already canonical) and rarefied semantic richness."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest
from conftest import write_suite

from bench.metrics import higher_is_better, rarefied_richness, score_samples
from bench.run.loop import Analysis
from bench.suite.config import SuiteError, load_suite
from bench.tasks import get_task

TASK = get_task("identities")


@pytest.mark.parametrize(
    ("text", "trivial"),
    [
        ("x = x", True),  # one tree on both sides
        ("y + x = y + x", True),  # the same tree, not canonical
        ("x + 1 = x + 1", True),  # left side already canonical
        ("( x + 1 ) = x + 1", True),  # redundant parentheses: the same tree
        ("x + y = y + x", True),  # left side canonical: the right side is only reordered
        ("y + x = x + y", False),  # an expansion step (reordering into canonical form)
        ("( x + 1 ) ^ 2 = x ^ 2 + 2 * x + 1", False),
        ("x * ( y + 2 ) = x * y + 2 * x", False),
        ("x + 1 = x + 2", False),  # incorrect: never trivial
        ("x + = 1", False),  # invalid
    ],
)
def test_trivial_identities(text, trivial):
    assert TASK.trivial(text) is trivial


def test_generated_identities_are_never_trivial():
    samples = TASK.generate(500, seed=0)
    assert not any(TASK.trivial(s) for s in samples)


def brute_force_richness(sizes: list[int], k: int) -> float:
    items = [kind for kind, n in enumerate(sizes) for _ in range(n)]
    subsets = list(itertools.combinations(range(len(items)), k))
    return sum(len({items[i] for i in subset}) for subset in subsets) / len(subsets)


@pytest.mark.parametrize(("sizes", "k"), [([3, 1, 1], 2), ([2, 2, 2, 1], 3), ([5, 1], 1), ([4, 3, 2, 1], 10)])
def test_rarefaction_is_exact(sizes, k):
    assert rarefied_richness(sizes, k) == pytest.approx(brute_force_richness(sizes, k), rel=1e-12)


def test_rarefaction_edges():
    assert rarefied_richness(Counter({"a": 5, "b": 5}), 1) == pytest.approx(1.0)
    assert rarefied_richness([3, 2], 5) == pytest.approx(2.0)  # all items: every kind
    assert rarefied_richness([3, 2], 6) is None  # fewer than k items
    # The same richness at k for two samples that differ only in how many correct samples they have.
    assert rarefied_richness([20] * 5, 10) == pytest.approx(rarefied_richness([40] * 5, 10), rel=0.02)


def test_semantic_metrics_count_only_non_trivial_correct_samples():
    samples = ["x = x", "y = y", "( x + 1 ) ^ 2 = x ^ 2 + 2 * x + 1", "x * ( y + 2 ) = x * y + 2 * x", "x + 1 = x + 2"]
    analysis = Analysis.of(get_task("identities", semantic_k=2), samples)
    scores = analysis.scores(samples, None, None)
    assert scores["trivial_share"] == pytest.approx(2 / 5)
    assert scores["semantic_unique"] == 2.0  # the two expansions; x and y are trivial
    assert scores["semantic_unique_at_k"] == pytest.approx(2.0)
    assert scores["correct"] == pytest.approx(4 / 5)  # trivial samples are still correct
    plain = score_samples(samples, [analysis.verdict(s).label for s in samples], [None] * 5)
    assert "trivial_share" not in plain and "semantic_unique_at_k" not in plain


def test_directions_are_declared():
    assert higher_is_better("trivial_share") is False
    assert higher_is_better("semantic_unique_at_k") is True


def test_semantic_k_is_checked(tmp_path):
    data = {
        "suite": "s",
        "seeds": [0],
        "generations": 1,
        "task": {"name": "identities", "params": {"semantic_k": 0}},
        "data": {"size": 50},
        "model": {"kind": "empirical"},
        "scenarios": [{"name": "replace", "regime": {"kind": "replace"}}],
    }
    with pytest.raises(SuiteError, match="semantic_k"):
        load_suite(write_suite(tmp_path / "s.yaml", data))
