"""Leaderboard: bootstrap CIs, normalized AUC, paired differences and the four output formats.

Expected numbers are computed by hand in the comments next to them.
"""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from bench.leaderboard import (
    MetricRow,
    area_under_curve,
    bootstrap_ci,
    build_leaderboard,
    collect_curves,
    format_ci,
    format_leaderboard,
)

DIRECTION = {"diversity_levenshtein": True, "correct": True, "unique_ratio": True, "invalid": False}


def make_rows(data: dict[str, dict[int, dict[str, list[float]]]], run_id: str = "run") -> list[MetricRow]:
    """Rows from ``{scenario: {seed: {metric: [value per generation]}}}``."""
    return [
        MetricRow(run_id, "suite", scenario, seed, g, metric, v, DIRECTION.get(metric))
        for scenario, seeds in data.items()
        for seed, metrics in seeds.items()
        for metric, values in metrics.items()
        for g, v in enumerate(values)
    ]


# Baseline "replace", diversity per seed over 3 generations:
#   seed 0: [1, .5, 0]   final 0    AUC ((1+.5)/2 + (.5+0)/2)/2 = (.75+.25)/2 = .5
#   seed 1: [1, .5, .5]  final .5   AUC (.75 + .5)/2 = .625
#   seed 2: [1, 1, .5]   final .5   AUC (1 + .75)/2 = .875
#   mean final 1/3, mean AUC 2/3.
REPLACE = {0: [1.0, 0.5, 0.0], 1: [1.0, 0.5, 0.5], 2: [1.0, 1.0, 0.5]}
# "accumulate" = replace + a per-seed shift (.25, .5, .25): the final and AUC diffs per seed are the shifts,
# mean 1/3; its own finals are .25, 1.0, .75 (mean 2/3) and AUCs .75, 1.125, 1.125 (mean 1.0).
SHIFT = {0: 0.25, 1: 0.5, 2: 0.25}


def two_scenarios() -> list[MetricRow]:
    data: dict[str, dict[int, dict[str, list[float]]]] = {"replace": {}, "accumulate": {}}
    for seed, curve in REPLACE.items():
        # correct: replace rises 0 -> .5 -> 1 for every seed; accumulate stays at .5 (AUC .5 each).
        data["replace"][seed] = {
            "diversity_levenshtein": curve,
            "correct": [0.0, 0.5, 1.0],
            "unique_ratio": [1.0, 1.0, 1.0],
            "invalid": [0.5, 0.25, 0.0],
        }
        data["accumulate"][seed] = {
            "diversity_levenshtein": [v + SHIFT[seed] for v in curve],
            "correct": [0.5, 0.5, 0.5],
            "unique_ratio": [1.0, 1.0, 1.0],
            "invalid": [0.5, 0.5, 0.5],
        }
    return make_rows(data)


# --- bootstrap_ci ------------------------------------------------------------------------------------------


def test_bootstrap_identical_values_zero_width() -> None:
    assert bootstrap_ci([0.1, 0.1, 0.1]) == (0.1, 0.1, 0.1)
    assert bootstrap_ci([0.7]) == (0.7, 0.7, 0.7)


def test_bootstrap_two_values_hand_computed() -> None:
    # Resample means of [0, 1] are 0, .5, 1 with probabilities 1/4, 1/2, 1/4: the 2.5% and 97.5%
    # quantiles are 0 and 1, the mean is .5.
    mean, low, high = bootstrap_ci([0.0, 1.0])
    assert (mean, low, high) == (0.5, 0.0, 1.0)


def test_bootstrap_zero_one_values_inside_unit_interval() -> None:
    values = [0.0, 1.0] * 10
    mean, low, high = bootstrap_ci(values)
    assert mean == 0.5
    assert 0.0 <= low < 0.5 < high <= 1.0


def test_bootstrap_seeded_determinism() -> None:
    values = [0.3, 0.1, 0.8, 0.5, 0.45]
    assert bootstrap_ci(values, seed=3) == bootstrap_ci(values, seed=3)
    assert bootstrap_ci(values, seed=3) != bootstrap_ci(values, seed=4)


def test_bootstrap_wider_at_higher_confidence() -> None:
    values = [0.3, 0.1, 0.8, 0.5, 0.45, 0.2]
    _, low90, high90 = bootstrap_ci(values, confidence=0.90)
    _, low99, high99 = bootstrap_ci(values, confidence=0.99)
    assert low99 <= low90 and high90 <= high99


def test_bootstrap_coverage_sanity() -> None:
    # 95% percentile intervals of n=20 normal samples should contain the true mean roughly 90-97% of the time.
    rng = np.random.default_rng(123)
    trials = 300
    hits = 0
    for t in range(trials):
        sample = rng.normal(0.0, 1.0, size=20)
        _, low, high = bootstrap_ci(sample.tolist(), resamples=2000, seed=t)
        hits += low <= 0.0 <= high
    assert 0.85 <= hits / trials <= 0.99


def test_bootstrap_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="at least one value"):
        bootstrap_ci([])
    with pytest.raises(ValueError, match="finite"):
        bootstrap_ci([0.1, float("nan")])
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_ci([0.1, 0.2], confidence=1.0)


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


# --- build_leaderboard -------------------------------------------------------------------------------------


def test_build_leaderboard_hand_computed() -> None:
    board = build_leaderboard(two_scenarios())
    assert [r["scenario"] for r in board] == ["accumulate", "replace"]  # 2/3 > 1/3 final diversity
    acc, rep = board
    assert rep["baseline"] == acc["baseline"] == "replace"  # default baseline: "replace"
    assert (rep["n_seeds"], rep["n_generations"]) == (3, 3)

    assert rep["diversity_levenshtein_final"] == pytest.approx(1 / 3)
    assert rep["diversity_levenshtein_auc"] == pytest.approx(2 / 3)
    assert acc["diversity_levenshtein_final"] == pytest.approx(2 / 3)
    assert acc["diversity_levenshtein_auc"] == pytest.approx(1.0)
    # Paired: per-seed shifts .25, .5, .25 -> mean 1/3; the CI stays within the observed shifts.
    assert acc["diversity_levenshtein_final_diff"] == pytest.approx(1 / 3)
    assert acc["diversity_levenshtein_auc_diff"] == pytest.approx(1 / 3)
    assert 0.25 <= acc["diversity_levenshtein_final_diff_ci_low"] <= 1 / 3
    assert 1 / 3 <= acc["diversity_levenshtein_final_diff_ci_high"] <= 0.5
    # correct: replace final 1, AUC (.25 + .75)/2 = .5; accumulate final .5, AUC .5: diffs -.5 and 0.
    assert rep["correct_final"] == 1.0 and rep["correct_auc"] == 0.5
    assert acc["correct_final_diff"] == -0.5
    assert acc["correct_final_diff_ci_low"] == acc["correct_final_diff_ci_high"] == -0.5
    assert acc["correct_auc_diff"] == 0.0
    assert acc["n_paired_seeds"] == 3

    for m in ("diversity_levenshtein", "correct", "unique_ratio"):
        for part in ("final", "auc"):
            for suffix in ("", "_ci_low", "_ci_high"):
                assert rep[f"{m}_{part}_diff{suffix}"] is None  # the baseline row has no diffs
                assert acc[f"{m}_{part}{suffix}"] is not None
            assert acc[f"{m}_{part}_ci_low"] <= acc[f"{m}_{part}"] <= acc[f"{m}_{part}_ci_high"]


def test_build_leaderboard_unpaired_mean_differs_from_paired_ci() -> None:
    # The unpaired final spread of accumulate (.25, 1, .75) is wider than the paired diffs (.25, .5, .25).
    acc = build_leaderboard(two_scenarios())[0]
    unpaired = acc["diversity_levenshtein_final_ci_high"] - acc["diversity_levenshtein_final_ci_low"]
    paired = acc["diversity_levenshtein_final_diff_ci_high"] - acc["diversity_levenshtein_final_diff_ci_low"]
    assert paired < unpaired


def test_sort_ascending_when_lower_is_better() -> None:
    # invalid (lower is better): accumulate final .5, replace final 0 -> replace first.
    board = build_leaderboard(two_scenarios(), primary="invalid")
    assert [r["scenario"] for r in board] == ["replace", "accumulate"]
    assert "invalid_final" in board[0]  # primary is added to the metrics
    board = build_leaderboard(two_scenarios(), primary="correct")  # higher is better: 1 > .5
    assert [r["scenario"] for r in board] == ["replace", "accumulate"]


def test_explicit_and_default_baselines() -> None:
    rows = two_scenarios()
    board = build_leaderboard(rows, baseline="accumulate")
    by_name = {r["scenario"]: r for r in board}
    assert by_name["accumulate"]["diversity_levenshtein_final_diff"] is None
    assert by_name["replace"]["diversity_levenshtein_final_diff"] == pytest.approx(-1 / 3)

    renamed = [r._replace(scenario="baseline") if r.scenario == "accumulate" else r for r in rows]
    assert build_leaderboard(renamed)[0]["baseline"] == "baseline"  # "baseline" beats "replace"

    other = [r._replace(scenario={"replace": "b", "accumulate": "a"}[r.scenario]) for r in rows]
    assert build_leaderboard(other)[0]["baseline"] == "b"  # neither: the first scenario seen


def test_missing_generations_for_one_seed() -> None:
    rows = two_scenarios()
    # Seed 2 of accumulate was interrupted after generation 1: the scenario uses generations 0..1 only.
    rows = [r for r in rows if not (r.scenario == "accumulate" and r.seed == 2 and r.generation == 2)]
    acc = next(r for r in build_leaderboard(rows) if r["scenario"] == "accumulate")
    assert acc["n_generations"] == 2 and acc["n_seeds"] == 3
    # Finals at generation 1: .75, 1.0, 1.25 -> mean 1.0. AUC of two points = their mean: 1, 1.25, 1.25.
    assert acc["diversity_levenshtein_final"] == pytest.approx(1.0)
    assert acc["diversity_levenshtein_auc"] == pytest.approx(3.5 / 3)
    # Paired against replace on the same two generations: shifts .25, .5, .25 again.
    assert acc["diversity_levenshtein_final_diff"] == pytest.approx(1 / 3)
    assert acc["diversity_levenshtein_auc_diff"] == pytest.approx(1 / 3)


def test_missing_metric_at_a_generation_counts_as_missing_generation() -> None:
    rows = [
        r
        for r in two_scenarios()
        if not (r.scenario == "replace" and r.seed == 0 and r.generation == 2 and r.metric == "correct")
    ]
    curves = collect_curves(rows, ["diversity_levenshtein", "correct"])
    assert curves["replace"].n_generations == 2
    assert curves["replace"].values["correct"].shape == (3, 2)
    assert collect_curves(rows, ["diversity_levenshtein"])["replace"].n_generations == 3


def test_no_shared_seeds_gives_none_diffs() -> None:
    rows = [r._replace(seed=r.seed + 10) if r.scenario == "accumulate" else r for r in two_scenarios()]
    acc = next(r for r in build_leaderboard(rows) if r["scenario"] == "accumulate")
    assert acc["n_paired_seeds"] == 0
    assert acc["diversity_levenshtein_final_diff"] is None
    assert acc["diversity_levenshtein_final"] == pytest.approx(2 / 3)


def test_partially_shared_seeds_are_paired_on_the_intersection() -> None:
    rows = [r for r in two_scenarios() if not (r.scenario == "replace" and r.seed == 1)]
    acc = next(r for r in build_leaderboard(rows) if r["scenario"] == "accumulate")
    assert acc["n_paired_seeds"] == 2
    assert acc["diversity_levenshtein_final_diff"] == pytest.approx(0.25)  # seeds 0 and 2: shifts .25, .25


def test_errors_are_clear() -> None:
    rows = two_scenarios()
    with pytest.raises(ValueError, match="no metric rows"):
        build_leaderboard([])
    with pytest.raises(ValueError, match="did you mean 'replace'"):
        build_leaderboard(rows, baseline="replac")
    with pytest.raises(ValueError, match="unknown primary metric 'diversity'"):
        build_leaderboard(rows, primary="diversity")
    with pytest.raises(ValueError, match="unknown metric 'novelty'"):
        build_leaderboard(rows, metrics=("novelty",))
    conflicting = [*rows, rows[0]._replace(run_id="other", value=rows[0].value + 1)]
    with pytest.raises(ValueError, match="two different values"):
        build_leaderboard(conflicting)
    # An identical duplicate (the same number stored twice) is harmless.
    assert len(build_leaderboard([*rows, rows[0]._replace(run_id="other")])) == 2


def test_build_leaderboard_deterministic() -> None:
    assert build_leaderboard(two_scenarios(), seed=5) == build_leaderboard(two_scenarios(), seed=5)


# --- format_leaderboard ------------------------------------------------------------------------------------


def test_format_ci() -> None:
    assert format_ci(0.5123, 0.48, 0.54) == "0.512 [0.480, 0.540]"
    assert format_ci(0.012, -0.01, 0.03, signed=True) == "+0.012 [-0.010, +0.030]"
    assert format_ci(None, None, None) == "—"


def test_format_json_roundtrip() -> None:
    board = build_leaderboard(two_scenarios())
    parsed = json.loads(format_leaderboard(board, "json"))
    assert parsed == board  # floats not rounded, None -> null -> None
    for row in parsed:
        for key in ("diversity_levenshtein_final_ci_low", "correct_auc_ci_high", "unique_ratio_final_diff"):
            assert key in row


def test_format_csv_every_key() -> None:
    board = build_leaderboard(two_scenarios())
    text = format_leaderboard(board, "csv")
    reader = csv.DictReader(io.StringIO(text))
    assert reader.fieldnames == list(board[0])
    parsed = list(reader)
    assert [p["scenario"] for p in parsed] == ["accumulate", "replace"]
    assert float(parsed[0]["diversity_levenshtein_final"]) == board[0]["diversity_levenshtein_final"]
    assert parsed[1]["diversity_levenshtein_final_diff"] == ""  # None -> empty field


def test_format_markdown() -> None:
    board = build_leaderboard(two_scenarios())
    lines = format_leaderboard(board, "md").splitlines()
    assert lines[0].startswith("| scenario | seeds | gens | diversity_levenshtein final |")
    assert set(lines[1]) <= set("|:-")  # the header separator
    assert lines[1].count("|") == lines[0].count("|")
    assert "| accumulate | 3 | 3 | 0.667 [" in lines[2]
    assert "+0.333 [+0.250, " in lines[2]
    assert "baseline" in lines[3]


def test_format_table_rich() -> None:
    board = build_leaderboard(two_scenarios())
    text = format_leaderboard(board, "table")
    assert "accumulate" in text and "replace" in text
    assert "0.333 [" in text and "+0.333 [+0.250, " in text and "baseline" in text
    assert "\x1b[" not in text  # no colour codes


def test_format_table_does_not_interpret_markup() -> None:
    rows = [r._replace(scenario="[bold]x|y[/bold]") if r.scenario == "accumulate" else r for r in two_scenarios()]
    board = build_leaderboard(rows)
    assert "[bold]x|y[/bold]" in format_leaderboard(board, "table")
    assert "[bold]x\\|y[/bold]" in format_leaderboard(board, "md")  # the pipe is escaped in markdown


def test_format_unknown() -> None:
    with pytest.raises(ValueError, match="unknown format"):
        format_leaderboard([], "html")  # type: ignore[arg-type]
