"""Leaderboard: intervals from bench.analysis.stats, normalized AUC, paired tests, collapse times and the output
formats.

Expected numbers are computed by hand in the comments next to them. bench.analysis.stats itself (the t interval, the
bootstrap, the sign-flip test, Holm, Kaplan–Meier) is tested in tests/test_stats.py; here we test that the
leaderboard feeds it the right per-seed values and reports what it returns.
"""

from __future__ import annotations

import csv
import io
import json
import math

import pytest
from conftest import DIRECTION, DL, make_rows, three_scenarios, two_scenarios

from bench.analysis.leaderboard import BoardRow, area_under_curve, build_leaderboard, collect_curves, direction
from bench.analysis.leaderboard_formats import (
    caption,
    format_comparison,
    format_interval,
    format_leaderboard,
    table_cells,
)
from bench.analysis.stats import Interval, bootstrap_interval

# Student-t quantile t_{0.975, 2} (3 seeds), from tables: 4.302653.
T975_2 = 4.302653


def by_name(board: list[BoardRow]) -> dict[str, BoardRow]:
    return {r.scenario: r for r in board}


# --- area_under_curve --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("curve", "expected"),
    [
        ([1, 1, 1], 1.0),
        ([0, 1], 0.5),
        ([1, 0, 0], 0.25),  # (.5 + 0) / 2
        ([0.4], 0.4),
        ([1, 0.5, 0], 0.5),  # (.75 + .25) / 2
    ],
)
def test_area_under_curve(curve: list[float], expected: float) -> None:
    assert area_under_curve(curve) == pytest.approx(expected)


def test_area_under_curve_empty() -> None:
    with pytest.raises(ValueError):
        area_under_curve([])


# --- build_leaderboard: point estimates --------------------------------------------------------------------


def test_build_leaderboard_hand_computed() -> None:
    board = build_leaderboard(two_scenarios())
    assert all(isinstance(r, BoardRow) for r in board)
    assert [r.scenario for r in board] == ["accumulate", "replace"]  # 2/3 > 1/3 final diversity
    acc, rep = board
    assert rep.baseline == acc.baseline == "replace"  # default baseline: "replace"
    assert rep.is_baseline and not acc.is_baseline
    assert (rep.n_seeds, rep.n_generations, rep.confidence) == (3, 3, 0.95)

    assert rep.value(DL) == pytest.approx(1 / 3)
    assert rep.value(DL, "auc") == pytest.approx(2 / 3)
    assert acc.value(DL) == pytest.approx(2 / 3)
    assert acc.value(DL, "auc") == pytest.approx(1.0)
    # Paired: per-seed shifts .25, .5, .25 -> mean 1/3.
    assert acc.comparisons[(DL, "final")].difference.mean == pytest.approx(1 / 3)
    assert acc.comparisons[(DL, "auc")].difference.mean == pytest.approx(1 / 3)
    # correct: replace final 1, AUC (.25 + .75)/2 = .5; accumulate final .5, AUC .5: diffs -.5 and 0.
    assert rep.value("correct") == 1.0 and rep.value("correct", "auc") == 0.5
    # Three identical per-seed differences: a zero-width interval at -.5, exactly.
    assert acc.comparisons[("correct", "final")].difference == Interval(-0.5, -0.5, -0.5, "t", 3)
    assert acc.comparisons[("correct", "auc")].difference == Interval(0.0, 0.0, 0.0, "t", 3)
    assert acc.n_paired_seeds == 3 and rep.n_paired_seeds is None

    assert rep.comparisons == {}  # the baseline row has no differences
    for m in ("diversity_levenshtein", "correct", "unique_ratio"):
        for part in ("final", "auc"):
            est = acc.estimates[(m, part)]
            assert est.n == 3 and est.method == "t"  # 3 seeds < 10: Student-t under "auto"
            assert est.low <= est.mean <= est.high
            assert (m, part) in acc.comparisons
    assert acc.value("no_such_metric") is None


def test_t_interval_of_final_values_hand_computed() -> None:
    # Scenario "x": seed s has the curve [0, s + 1], so its finals are 1, 2, 3 and its AUCs .5, 1, 1.5.
    # Finals: mean 2, s = 1, 2 ± 4.302653 / √3 = [-0.4841, 4.4841].
    # AUCs: mean 1, s = .5, 1 ± 4.302653 · .5 / √3 = 1 ± 1.2421 = [-0.2421, 2.2421].
    rows = make_rows({"x": {s: {DL: [0.0, s + 1.0]} for s in range(3)}})
    (row,) = build_leaderboard(rows)
    final = row.estimates[(DL, "final")]
    assert (final.mean, final.method, final.n) == (2.0, "t", 3)
    assert final.low == pytest.approx(-0.4841, abs=1e-4)
    assert final.high == pytest.approx(4.4841, abs=1e-4)
    auc = row.estimates[(DL, "auc")]
    assert auc.mean == pytest.approx(1.0)
    assert auc.low == pytest.approx(1 - T975_2 * 0.5 / math.sqrt(3), abs=1e-5)
    assert auc.high == pytest.approx(2.2421, abs=1e-4)
    assert row.to_dict()[f"{DL}_final_ci"] == "t"


def test_replace_final_interval_hand_computed() -> None:
    # replace finals 0, .5, .5: mean 1/3, s² = ((1/3)² + 2 (1/6)²) / 2 = 1/12, s/√3 = 1/6,
    # half-width 4.302653 / 6 = 0.717109.
    # A seed at 0 has no logit: the [0, 1] metric's t interval is clipped at 0 instead (bench.analysis.bounded).
    rep = by_name(build_leaderboard(two_scenarios()))["replace"]
    est = rep.estimates[(DL, "final")]
    assert est.low == 0.0 and 1 / 3 - T975_2 / 6 < 0
    assert est.high == 1.0 and 1 / 3 + T975_2 / 6 > 1
    flat = rep.to_dict()
    assert (flat[f"{DL}_final_ci_low"], flat[f"{DL}_final_ci_high"]) == (est.low, est.high)


def test_confidence_is_passed_through() -> None:
    narrow = build_leaderboard(two_scenarios(), confidence=0.5)[0].estimates[(DL, "final")]
    wide = build_leaderboard(two_scenarios(), confidence=0.99)[0].estimates[(DL, "final")]
    assert wide.low < narrow.low < narrow.mean < narrow.high < wide.high


# --- build_leaderboard: paired differences and their tests -------------------------------------------------


def test_paired_difference_t_interval_and_sign_flip_p() -> None:
    acc = by_name(build_leaderboard(two_scenarios()))["accumulate"]
    cmp = acc.comparisons[(DL, "final")]
    # Shifts .25, .5, .25: mean 1/3, s² = (2 (1/12)² + (1/6)²) / 2 = 1/48, s/√3 = 1/12, half 4.302653/12.
    assert cmp.difference.method == "t" and cmp.difference.n == 3
    assert cmp.difference.low == pytest.approx(1 / 3 - T975_2 / 12, abs=1e-6)  # -0.0252
    assert cmp.difference.high == pytest.approx(1 / 3 + T975_2 / 12, abs=1e-6)  # 0.6919
    # Exact sign-flip: of the 8 sign patterns of (.25, .5, .25) only +++ and --- reach |sum| = 1: p = 2/8.
    assert cmp.p_value == 0.25
    assert cmp.p_holm == 0.25  # one non-baseline row: Holm leaves it alone
    # correct: -.5 at every seed -> p 2/8 as well; AUC differences are all 0 -> p = 1.
    assert acc.comparisons[("correct", "final")].p_value == 0.25
    assert acc.comparisons[("correct", "auc")].p_value == 1.0
    flat = acc.to_dict()
    assert flat[f"{DL}_final_diff"] == pytest.approx(1 / 3)
    assert flat[f"{DL}_final_diff_ci"] == "t"
    assert flat[f"{DL}_final_diff_p"] == 0.25 and flat[f"{DL}_final_diff_p_holm"] == 0.25


def test_holm_across_two_non_baseline_rows() -> None:
    board = by_name(build_leaderboard(three_scenarios()))
    acc, mixed = board["accumulate"], board["mixed"]
    # accumulate: shifts (.25, .5, .25) -> p = 2/8 = .25.
    # mixed: shifts (.25, -.25, .5), sum .5; pattern sums ±.25 ±.25 ±.5 are 1, 0, .5, -.5, .5, -.5, 0, -1:
    # six of eight reach |sum| >= .5 -> p = .75.
    assert acc.comparisons[(DL, "final")].p_value == 0.25
    assert mixed.comparisons[(DL, "final")].p_value == 0.75
    # Holm over m = 2: the smaller p times 2 -> .5; the larger times 1 -> .75 (max with .5 keeps it .75).
    assert acc.comparisons[(DL, "final")].p_holm == pytest.approx(0.5)
    assert mixed.comparisons[(DL, "final")].p_holm == pytest.approx(0.75)
    # A separate family per metric: correct diffs are -.5 x3 (p .25) and 0 x3 (p 1) -> Holm .5 and 1.
    assert acc.comparisons[("correct", "final")].p_holm == pytest.approx(0.5)
    assert mixed.comparisons[("correct", "final")].p_holm == 1.0
    assert board["replace"].comparisons == {}  # the baseline is not part of the family
    assert format_comparison(acc, DL).endswith(" p=0.5")
    assert format_comparison(board["replace"], DL) == "baseline"


def test_unpaired_interval_is_wider_than_paired() -> None:
    # accumulate's own finals (.25, 1, .75) spread more than the paired differences (.25, .5, .25).
    acc = build_leaderboard(two_scenarios())[0]
    unpaired = acc.estimates[(DL, "final")]
    paired = acc.comparisons[(DL, "final")].difference
    assert paired.high - paired.low < unpaired.high - unpaired.low


def test_explicit_and_default_baselines() -> None:
    rows = two_scenarios()
    board = by_name(build_leaderboard(rows, baseline="accumulate"))
    assert board["accumulate"].comparisons == {}
    assert board["replace"].comparisons[(DL, "final")].difference.mean == pytest.approx(-1 / 3)

    renamed = [r._replace(scenario="baseline") if r.scenario == "accumulate" else r for r in rows]
    assert build_leaderboard(renamed)[0].baseline == "baseline"  # "baseline" beats "replace"

    other = [r._replace(scenario={"replace": "b", "accumulate": "a"}[r.scenario]) for r in rows]
    assert build_leaderboard(other)[0].baseline == "b"  # neither: the first scenario seen


def test_missing_generations_for_one_seed() -> None:
    rows = two_scenarios()
    # Seed 2 of accumulate was interrupted after generation 1: the scenario uses generations 0..1 only.
    rows = [r for r in rows if not (r.scenario == "accumulate" and r.seed == 2 and r.generation == 2)]
    acc = by_name(build_leaderboard(rows))["accumulate"]
    assert acc.n_generations == 2 and acc.n_seeds == 3
    # Finals at generation 1: .75, 1.0, 1.25 -> mean 1.0. AUC of two points = their mean: 1, 1.25, 1.25.
    assert acc.value(DL) == pytest.approx(1.0)
    assert acc.value(DL, "auc") == pytest.approx(3.5 / 3)
    # Paired against replace on the same two generations: shifts .25, .5, .25 again.
    assert acc.comparisons[(DL, "final")].difference.mean == pytest.approx(1 / 3)
    assert acc.comparisons[(DL, "auc")].difference.mean == pytest.approx(1 / 3)


def test_a_metric_undefined_at_one_generation_is_left_out_and_does_not_shorten_the_others() -> None:
    """A metric one seed lacks at one generation (undefined there) is named, not averaged over fewer seeds, and it
    must not cut the scenario's other curves short (it once moved every metric's "final" back to generation 0)."""
    rows = [
        r
        for r in two_scenarios()
        if not (r.scenario == "replace" and r.seed == 0 and r.generation == 2 and r.metric == "correct")
    ]
    curves = collect_curves(rows, ["diversity_levenshtein", "correct"])
    assert curves["replace"].n_generations == 3
    assert set(curves["replace"].values) == {"diversity_levenshtein"}
    assert curves["replace"].undefined == {"correct"}
    assert curves["accumulate"].undefined == frozenset() and curves["accumulate"].values["correct"].shape == (3, 3)
    assert collect_curves(rows, ["diversity_levenshtein"])["replace"].n_generations == 3


def test_no_shared_seeds_gives_no_comparisons() -> None:
    rows = [r._replace(seed=r.seed + 10) if r.scenario == "accumulate" else r for r in two_scenarios()]
    acc = by_name(build_leaderboard(rows))["accumulate"]
    assert acc.n_paired_seeds == 0
    assert acc.comparisons == {}
    assert f"{DL}_final_diff" not in acc.to_dict()
    assert format_comparison(acc, DL) == "—"
    assert acc.value(DL) == pytest.approx(2 / 3)


def test_partially_shared_seeds_are_paired_on_the_intersection() -> None:
    rows = [r for r in two_scenarios() if not (r.scenario == "replace" and r.seed == 1)]
    acc = by_name(build_leaderboard(rows))["accumulate"]
    assert acc.n_paired_seeds == 2
    cmp = acc.comparisons[(DL, "final")]
    assert cmp.difference == Interval(0.25, 0.25, 0.25, "t", 2)  # seeds 0 and 2: shifts .25, .25
    assert cmp.p_value == 0.5  # 2 of the 4 sign patterns of (.25, .25) reach |sum| = .5


# --- intervals: one seed, the bootstrap, many seeds --------------------------------------------------------


def test_one_seed_has_no_interval() -> None:
    rows = [r for r in two_scenarios() if r.seed == 0]
    board = by_name(build_leaderboard(rows))
    acc, rep = board["accumulate"], board["replace"]
    est = acc.estimates[(DL, "final")]
    assert est == Interval(mean=0.25, low=None, high=None, method="none", n=1)
    assert rep.estimates[(DL, "final")].method == "none"
    # The one paired difference (.25) has no interval either; its sign-flip p is 1 (both patterns tie).
    cmp = acc.comparisons[(DL, "final")]
    assert cmp.difference == Interval(mean=0.25, low=None, high=None, method="none", n=1)
    assert cmp.p_value == 1.0 and cmp.p_holm == 1.0
    assert format_interval(est) == "0.250 [–]"
    assert format_comparison(acc, DL) == "+0.250 [–] p=1"
    flat = acc.to_dict()
    assert flat[f"{DL}_final_ci"] == "none"
    assert flat[f"{DL}_final_ci_low"] is None and flat[f"{DL}_final_ci_high"] is None
    text = format_leaderboard(list(board.values()), "md")
    assert "| accumulate | 1 | 3 | 0.250 [–] |" in text
    assert "none for one seed" in text


def test_ci_bootstrap_reproduces_the_percentile_bootstrap() -> None:
    board = by_name(build_leaderboard(two_scenarios(), ci="bootstrap", seed=7))
    rep, acc = board["replace"], board["accumulate"]
    assert rep.estimates[(DL, "final")] == bootstrap_interval([0.0, 0.5, 0.5], seed=7)
    assert rep.estimates[(DL, "auc")] == bootstrap_interval([0.5, 0.625, 0.875], seed=7)
    diff = acc.comparisons[(DL, "final")].difference
    assert diff == bootstrap_interval([0.25, 0.5, 0.25], seed=7)
    assert diff.method == "bootstrap"
    # The percentile interval cannot reach beyond the observed shifts (unlike the t interval).
    assert 0.25 <= diff.low <= 1 / 3 <= diff.high <= 0.5
    assert acc.comparisons[(DL, "final")].p_value == 0.25  # the test does not depend on the interval method
    assert {e.method for r in board.values() for e in r.estimates.values()} == {"bootstrap"}
    assert "percentile bootstrap" in caption(list(board.values()))
    assert "Student-t" not in caption(list(board.values()))
    assert build_leaderboard(two_scenarios(), ci="bootstrap", seed=7) == list(board.values())


def test_ci_bootstrap_two_seeds_hand_computed() -> None:
    # Finals 0 and 1: resample means are 0, .5, 1 with probabilities 1/4, 1/2, 1/4, so the 2.5% and 97.5%
    # quantiles are 0 and 1, the mean .5. (The t interval would be .5 ± 12.706 · .5 = [-5.853, 6.853].)
    rows = make_rows({"x": {0: {DL: [1.0, 0.0]}, 1: {DL: [1.0, 1.0]}}})
    (boot,) = build_leaderboard(rows, ci="bootstrap")
    assert boot.estimates[(DL, "final")] == Interval(0.5, 0.0, 1.0, "bootstrap", 2)
    # The t interval [-5.853, 6.853] of a [0, 1] metric with seeds on its bounds is clipped (bench.analysis.bounded).
    (t,) = build_leaderboard(rows, ci="t")
    assert (t.estimates[(DL, "final")].low, t.estimates[(DL, "final")].high) == (0.0, 1.0)


def test_auto_uses_bootstrap_from_ten_seeds() -> None:
    finals = [0.31, 0.42, 0.27, 0.55, 0.38, 0.61, 0.12, 0.47, 0.33, 0.29]
    rows = make_rows({"x": {s: {DL: [1.0, v]} for s, v in enumerate(finals)}})
    (auto,) = build_leaderboard(rows)
    assert auto.estimates[(DL, "final")] == bootstrap_interval(finals, seed=0)
    # The leaderboard's seed is the bootstrap's seed.
    (seeded,) = build_leaderboard(rows, seed=3)
    assert seeded.estimates[(DL, "final")] == bootstrap_interval(finals, seed=3)
    assert seeded.estimates[(DL, "final")] != auto.estimates[(DL, "final")]
    (t,) = build_leaderboard(rows, ci="t")
    assert t.estimates[(DL, "final")].method == "t"
    nine = [r for r in rows if r.seed < 9]
    assert build_leaderboard(nine)[0].estimates[(DL, "final")].method == "t"


# --- collapse: Kaplan–Meier generations until ... ----------------------------------------------------------


def test_generations_until_one_output_kaplan_meier() -> None:
    # unique_count: seed 0 reaches 1 at generation 2; seed 1 never does within generations 0..3 (censored at 3).
    # Kaplan–Meier: at t = 2 two seeds are at risk and one collapses, S(2) = 1 - 1/2 = 1/2 <= .5: median 2.
    # (Counting the survivor as collapsing at 3 would give a mean of 2.5; dropping it, 2 from one seed.)
    curves = {0: [5.0, 3.0, 1.0, 1.0], 1: [5.0, 4.0, 3.0, 2.0]}
    rows = make_rows({"x": {s: {DL: [0.5, 0.4, 0.3, 0.2], "unique_count": c} for s, c in curves.items()}})
    (row,) = build_leaderboard(rows)
    km = row.collapse["one_output"]
    assert (km.median, km.events, km.n) == (2.0, 1, 2)
    assert "all_correct" not in row.collapse  # no correct rows: no such event
    flat = row.to_dict()
    assert flat["collapse_one_output_median"] == 2.0 and flat["collapse_one_output_events"] == 1
    headers, body = table_cells([row], [DL])
    assert headers[-1] == "gens to one output" and body[0][-1] == "2 (1/2)"

    # A third seed that never collapses: S(2) = 1 - 1/3 = 2/3 > .5 and nothing after: not reached.
    rows += make_rows({"x": {2: {DL: [0.5, 0.4, 0.3, 0.2], "unique_count": [5.0, 4.0, 3.0, 2.0]}}})
    (row,) = build_leaderboard(rows)
    assert (row.collapse["one_output"].median, row.collapse["one_output"].events) == (None, 1)
    assert row.to_dict()["collapse_one_output_median"] is None
    assert table_cells([row], [DL])[1][0][-1] == "not reached (1/3)"


def test_generations_until_all_correct() -> None:
    # replace's correct is 0, .5, 1 at every seed: all three reach >= .99 at generation 2 -> median 2.
    # accumulate stays at .5: no seed gets there.
    board = by_name(build_leaderboard(two_scenarios()))
    rep, acc = board["replace"].collapse["all_correct"], board["accumulate"].collapse["all_correct"]
    assert (rep.median, rep.events, rep.n) == (2.0, 3, 3)
    assert (acc.median, acc.events, acc.n) == (None, 0, 3)
    assert "one_output" not in board["replace"].collapse  # no unique_count rows


# --- direction and sorting ---------------------------------------------------------------------------------


def test_sort_ascending_when_lower_is_better() -> None:
    # invalid (lower is better): accumulate final .5, replace final 0 -> replace first.
    board = build_leaderboard(two_scenarios(), primary="invalid")
    assert [r.scenario for r in board] == ["replace", "accumulate"]
    assert ("invalid", "final") in board[0].estimates  # the primary is added to the metrics
    board = build_leaderboard(two_scenarios(), primary="correct")  # higher is better: 1 > .5
    assert [r.scenario for r in board] == ["replace", "accumulate"]


def test_direction_comes_from_the_registry_not_the_rows() -> None:
    # The rows claim that higher is better for invalid; the registry says lower, and the registry wins.
    wrong = two_scenarios(directions={**DIRECTION, "invalid": True})
    assert direction(wrong, "invalid") is False
    assert [r.scenario for r in build_leaderboard(wrong, primary="invalid")] == ["replace", "accumulate"]
    assert direction(wrong, "diversity_levenshtein") is True
    assert direction(wrong, "length_mean") is None  # a descriptive statistic in the registry


def test_direction_falls_back_to_rows_for_unregistered_metrics() -> None:
    # "plugin_loss" is not in the registry: the rows' recorded flag decides (lower is better: ascending).
    data = {"replace": {0: {DL: [0.5, 0.5], "plugin_loss": [1.0, 2.0]}}, "b": {0: {DL: [0.5, 0.5]}}}
    data["b"][0]["plugin_loss"] = [1.0, 1.0]
    rows = make_rows(data, directions={DL: True, "plugin_loss": False})
    assert direction(rows, "plugin_loss") is False
    assert [r.scenario for r in build_leaderboard(rows, primary="plugin_loss")] == ["b", "replace"]
    flipped = [r._replace(higher_is_better=True) if r.metric == "plugin_loss" else r for r in rows]
    assert direction(flipped, "plugin_loss") is True
    assert [r.scenario for r in build_leaderboard(flipped, primary="plugin_loss")] == ["replace", "b"]
    unknown = [r._replace(higher_is_better=None) if r.metric == "plugin_loss" else r for r in rows]
    assert direction(unknown, "plugin_loss") is None
    assert direction(rows, "not_in_rows_either") is None
    conflicting = [*rows[:-1], rows[-1]._replace(higher_is_better=True)]
    assert rows[-1].metric == "plugin_loss"
    with pytest.raises(ValueError, match="disagree"):
        direction(conflicting, "plugin_loss")


def test_metrics_the_rows_do_not_carry_are_skipped() -> None:
    rows = two_scenarios()
    board = build_leaderboard(rows, metrics=("novelty", "correct"))  # no novelty rows: skipped, no error
    assert {m for r in board for (m, _) in r.estimates} == {"correct", DL}  # plus the primary
    # The default metrics include real_nll, which these rows lack.
    assert all(("real_nll", "final") not in r.estimates for r in build_leaderboard(rows))
    with pytest.raises(ValueError, match="unknown primary metric 'novelty'"):
        build_leaderboard(rows, primary="novelty")


def test_errors_are_clear() -> None:
    rows = two_scenarios()
    with pytest.raises(ValueError, match="no metric rows"):
        build_leaderboard([])
    with pytest.raises(ValueError, match="did you mean 'replace'"):
        build_leaderboard(rows, baseline="replac")
    with pytest.raises(ValueError, match="unknown primary metric 'diversity'"):
        build_leaderboard(rows, primary="diversity")
    conflicting = [*rows, rows[0]._replace(run_id="other", value=rows[0].value + 1)]
    with pytest.raises(ValueError, match="two different values"):
        build_leaderboard(conflicting)
    with pytest.raises(ValueError, match="method"):
        build_leaderboard(rows, ci="z")  # type: ignore[arg-type]
    # An identical duplicate (the same number stored twice) is harmless.
    assert len(build_leaderboard([*rows, rows[0]._replace(run_id="other")])) == 2


def test_build_leaderboard_deterministic() -> None:
    assert build_leaderboard(two_scenarios(), seed=5) == build_leaderboard(two_scenarios(), seed=5)


# --- format_leaderboard ------------------------------------------------------------------------------------


def test_format_interval() -> None:
    assert format_interval(Interval(0.5123, 0.48, 0.54, "t", 3)) == "0.512 [0.480, 0.540]"
    assert format_interval(Interval(0.012, -0.01, 0.03, "t", 3), signed=True) == "+0.012 [-0.010, +0.030]"
    assert format_interval(Interval(0.5123, None, None, "none", 1)) == "0.512 [–]"
    assert format_interval(Interval(-0.25, None, None, "none", 1), signed=True) == "-0.250 [–]"
    assert format_interval(None) == "—"


def test_format_comparison() -> None:
    acc, rep = build_leaderboard(two_scenarios())
    # t interval of the shifts: 1/3 ± 0.358554 -> [-0.025, +0.692]; Holm p over one row = .25.
    assert format_comparison(acc, DL) == "+0.333 [-0.025, +0.692] p=0.25"
    assert format_comparison(acc, "correct") == "-0.500 [-0.500, -0.500] p=0.25"
    assert format_comparison(rep, DL) == "baseline"
    assert format_comparison(acc, "novelty") == "—"


def test_table_cells_and_caption() -> None:
    board = build_leaderboard(two_scenarios())
    headers, body = table_cells(board, (DL, "correct", "real_nll"))
    assert headers == [
        "scenario",
        "seeds",
        "gens",
        f"{DL} final",
        f"{DL} AUC",
        f"{DL} Δ final",
        "correct final",
        "correct AUC",
        "correct Δ final",
        "gens to all correct",
    ]  # real_nll: no estimates, no columns
    acc, rep = body
    assert acc[:3] == ["accumulate", "3", "3"]
    assert acc[5] == "+0.333 [-0.025, +0.692] p=0.25" and rep[5] == "baseline"
    assert (acc[-1], rep[-1]) == ("not reached (0/3)", "2 (3/3)")
    text = caption(board)
    assert "95% CI; Student-t" in text and "'replace'" in text and "Holm" in text


def test_format_json_roundtrip() -> None:
    board = build_leaderboard(two_scenarios())
    parsed = json.loads(format_leaderboard(board, "json"))
    assert parsed == [r.to_dict() for r in board]  # floats not rounded, None -> null -> None
    acc, rep = parsed
    for key in (
        "diversity_levenshtein_final_ci_low",
        "correct_auc_ci_high",
        "unique_ratio_final_diff",
        "unique_ratio_final_diff_p_holm",
        "collapse_all_correct_median",
    ):
        assert key in acc
    assert "unique_ratio_final_diff" not in rep  # the baseline row has no differences
    assert acc["diversity_levenshtein_final_ci"] == "t"
    assert (acc["scenario"], acc["baseline"], acc["n_paired_seeds"]) == ("accumulate", "replace", 3)


def test_format_csv_every_key() -> None:
    board = build_leaderboard(two_scenarios())
    text = format_leaderboard(board, "csv")
    reader = csv.DictReader(io.StringIO(text))
    assert reader.fieldnames == list(board[0].to_dict())  # the first row has every key here
    assert set(board[1].to_dict()) <= set(reader.fieldnames)
    parsed = list(reader)
    assert [p["scenario"] for p in parsed] == ["accumulate", "replace"]
    assert float(parsed[0]["diversity_levenshtein_final"]) == board[0].value(DL)
    assert float(parsed[0]["diversity_levenshtein_final_ci_low"]) == board[0].estimates[(DL, "final")].low
    assert parsed[1]["diversity_levenshtein_final_diff"] == ""  # absent on the baseline row -> empty field
    assert parsed[0]["collapse_all_correct_median"] == ""  # not reached: None -> empty field


def test_format_markdown() -> None:
    board = build_leaderboard(two_scenarios())
    lines = format_leaderboard(board, "md").splitlines()
    assert lines[0].startswith("| scenario | seeds | gens | diversity_levenshtein final |")
    assert set(lines[1]) <= set("|:-")  # the header separator
    assert lines[1].count("|") == lines[0].count("|")
    assert "| accumulate | 3 | 3 | 0.667 [" in lines[2]
    assert "+0.333 [-0.025, +0.692] p=0.25" in lines[2]
    assert "baseline" in lines[3]
    assert "Student-t" in lines[-1]  # the caption names the interval method


def test_format_table_rich() -> None:
    board = build_leaderboard(two_scenarios())
    text = format_leaderboard(board, "table")
    assert "accumulate" in text and "replace" in text
    assert "0.333 [" in text and "+0.333 [-0.025, +0.692] p=0.25" in text and "baseline" in text
    assert "Student-t" in text
    assert "\x1b[" not in text  # no colour codes


def test_format_table_does_not_interpret_markup() -> None:
    rows = [r._replace(scenario="[bold]x|y[/bold]") if r.scenario == "accumulate" else r for r in two_scenarios()]
    board = build_leaderboard(rows)
    assert "[bold]x|y[/bold]" in format_leaderboard(board, "table")
    assert "[bold]x\\|y[/bold]" in format_leaderboard(board, "md")  # the pipe is escaped in markdown


def test_format_unknown() -> None:
    with pytest.raises(ValueError, match="unknown format"):
        format_leaderboard([], "html")  # type: ignore[arg-type]
