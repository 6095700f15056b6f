"""Mitigations: hand-made inputs, drop reasons, determinism and the suite-schema union."""

from __future__ import annotations

import random

import pytest
from pydantic import TypeAdapter, ValidationError

from bench.mitigations import MITIGATIONS, MitigationContext, Selection, apply_mitigations
from bench.mitigations.dedup import Dedup
from bench.mitigations.diversity_select import DiversitySelect
from bench.mitigations.verifier_filter import VerifierFilter
from bench.suite.config import Mitigation
from bench.tasks.base import Verdict

LABELS = {"True": "correct", "False": "incorrect", "True and True": "correct", "( True": "invalid"}


def _context(seed: int = 0) -> MitigationContext:
    return MitigationContext(verify=lambda s: Verdict(LABELS[s]), seed=seed)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# verifier_filter and dedup


def test_verifier_filter_keeps_correct_in_order() -> None:
    samples = ["False", "True", "( True", "True and True", "False", "True"]
    selection = VerifierFilter().select(samples, _context())
    assert selection == Selection(kept=["True", "True and True", "True"], dropped={"incorrect": 2, "invalid": 1})


def test_verifier_filter_nothing_dropped() -> None:
    assert VerifierFilter().select(["True"], _context()) == Selection(kept=["True"], dropped={})


def test_dedup_keeps_first_occurrences() -> None:
    selection = Dedup().select(["b", "a", "b", "c", "a", "b"], _context())
    assert selection == Selection(kept=["b", "a", "c"], dropped={"duplicate": 3})
    assert Dedup().select([], _context()) == Selection(kept=[], dropped={})


# ---------------------------------------------------------------------------------------------
# diversity_select

PAPER_LIKE = ["True", "True and True", "False", "True"]


@pytest.mark.parametrize(
    ("seed", "expected"),
    [
        # random.Random(seed).randrange(4) picks the start: seed 2 -> index 0, 1 -> 1, 5 -> 2, 0 -> 3.
        # Start "True": "True and True" is 2/3 away, "False" 1 -> add "False".
        (2, ["True", "False"]),
        # Start "True and True": "True" 2/3, "False" 3/3 -> add "False".
        (1, ["True and True", "False"]),
        # Start "False": "True" 1 and "True and True" 1 tie -> lowest index, "True".
        (5, ["True", "False"]),
        # Start at the duplicate "True" (index 3): same as starting at index 0.
        (0, ["True", "False"]),
    ],
)
def test_diversity_select_hand_derived(seed: int, expected: list[str]) -> None:
    assert [random.Random(s).randrange(4) for s in (2, 1, 5, 0)] == [0, 1, 2, 3]
    selection = DiversitySelect(keep_count=2).select(PAPER_LIKE, _context(seed))
    assert selection == Selection(kept=expected, dropped={"diversity_select": 2})


def test_diversity_select_farthest_points() -> None:
    samples = ["a", "a b c d", "a b", "x y z w", "a b c"]
    # Start "a" (seed 2 -> index 0). Distances from "a": .75, .5, 1, 2/3 -> "x y z w".
    # Nearest after that: "a b c d" min(.75, 1) = .75, "a b" .5, "a b c" 2/3 -> "a b c d".
    assert random.Random(2).randrange(5) == 0
    selection = DiversitySelect(keep_count=3).select(samples, _context(2))
    assert selection == Selection(kept=["a", "a b c d", "x y z w"], dropped={"diversity_select": 2})


def test_diversity_select_caps_at_distinct_and_counts_duplicates() -> None:
    selection = DiversitySelect(keep_count=10).select(PAPER_LIKE, _context())
    assert selection == Selection(kept=["True", "True and True", "False"], dropped={"diversity_select": 1})
    assert DiversitySelect(keep_count=1).select([], _context()) == Selection(kept=[], dropped={})


def test_diversity_select_token_identical_strings_still_selectable() -> None:
    # Two distinct strings with the same tokens are 0 apart; the second must still be pickable.
    samples = ["a  b", "a b"]
    selection = DiversitySelect(keep_count=2).select(samples, _context())
    assert selection.kept == samples and selection.dropped == {}


def _naive_greedy(samples: list[str], k: int, seed: int) -> list[str]:
    from rapidfuzz.distance import Levenshtein

    distinct = list(dict.fromkeys(samples))
    toks = [s.split() for s in distinct]

    def dist(i: int, j: int) -> float:
        longest = max(len(toks[i]), len(toks[j]))
        return Levenshtein.distance(toks[i], toks[j]) / longest if longest else 0.0

    chosen = [distinct.index(samples[random.Random(seed).randrange(len(samples))])]
    while len(chosen) < min(k, len(distinct)):
        rest = [i for i in range(len(distinct)) if i not in chosen]
        chosen.append(max(rest, key=lambda i: (min(dist(i, c) for c in chosen), -i)))
    return [distinct[i] for i in sorted(chosen)]


def test_diversity_select_matches_naive_greedy() -> None:
    rng = random.Random(7)
    vocab = ["True", "False", "and", "or", "not"]
    for seed in range(6):
        samples = [" ".join(rng.choice(vocab) for _ in range(rng.randint(0, 6))) for _ in range(60)]
        k = rng.randint(1, 30)
        got = DiversitySelect(keep_count=k).select(samples, _context(seed))
        assert got.kept == _naive_greedy(samples, k, seed)
        assert got.dropped == {"diversity_select": len(samples) - len(got.kept)}


def test_diversity_select_is_deterministic() -> None:
    rng = random.Random(3)
    samples = [" ".join(rng.choice(["True", "False", "and", "or"]) for _ in range(5)) for _ in range(200)]
    method = DiversitySelect(keep_fraction=0.25)
    first = method.select(samples, _context(11))
    assert first == method.select(samples, _context(11))
    assert len(first.kept) == 50
    positions = [samples.index(s) for s in first.kept]
    assert positions == sorted(positions)  # input order


def test_diversity_select_target() -> None:
    assert DiversitySelect(keep_fraction=0.3).target(10) == 3  # not ceil(3.0000000000000004)
    assert DiversitySelect(keep_fraction=0.25).target(10) == 3  # half up
    assert DiversitySelect(keep_fraction=0.001).target(10) == 1  # at least one
    assert DiversitySelect(keep_fraction=1.0).target(0) == 0
    assert DiversitySelect(keep_count=7).target(3) == 7


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"keep_fraction": 0.5, "keep_count": 3},
        {"keep_fraction": 0.0},
        {"keep_fraction": 1.5},
        {"keep_count": 0},
        {"keep_count": 3, "seed": 1},
    ],
)
def test_diversity_select_rejects_bad_fields(fields: dict) -> None:
    with pytest.raises(ValidationError):
        DiversitySelect(**fields)


# ---------------------------------------------------------------------------------------------
# Registry, union and chaining


def test_registry_names() -> None:
    assert MITIGATIONS.names() == ["dedup", "diversity_select", "verifier_filter"]
    for name in MITIGATIONS:
        cls = MITIGATIONS.get(name)
        assert cls.model_fields["name"].default == name
        assert all(f.description for f in cls.model_fields.values())


def test_union_parses_and_rejects() -> None:
    adapter = TypeAdapter(Mitigation)
    assert adapter.validate_python({"name": "dedup"}) == Dedup()
    assert adapter.validate_python({"name": "verifier_filter"}) == VerifierFilter()
    assert adapter.validate_python({"name": "diversity_select", "keep_count": 3}) == DiversitySelect(keep_count=3)
    with pytest.raises(ValidationError, match="dedup"):
        adapter.validate_python({"name": "dedupe"})
    with pytest.raises(ValidationError, match="extra"):
        adapter.validate_python({"name": "dedup", "threshold": 1})
    with pytest.raises(ValidationError):
        adapter.validate_python({"keep_count": 3})


def test_apply_mitigations_chains_and_prefixes() -> None:
    samples = ["True", "False", "True", "( True", "True and True", "True"]
    kept, dropped = apply_mitigations([VerifierFilter(), Dedup()], samples, _context())
    assert kept == ["True", "True and True"]
    assert dropped == {"verifier_filter:incorrect": 1, "verifier_filter:invalid": 1, "dedup:duplicate": 2}
    # Same-named steps add up; no mitigations keep everything.
    steps = [Dedup(), DiversitySelect(keep_count=3), DiversitySelect(keep_count=1)]
    _, twice = apply_mitigations(steps, samples, _context())  # 4 distinct -> drops 1, then 2
    assert twice == {"dedup:duplicate": 2, "diversity_select:diversity_select": 3}
    assert apply_mitigations([], samples, _context()) == (samples, {})
