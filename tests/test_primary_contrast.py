"""Enough seeds for a comparison: the smallest attainable p, the pre-registered primary contrast, the paired t-test."""

from __future__ import annotations

import json
import math

import pytest
from conftest import MICRO, write_suite
from scipy import stats as sps

from bench.analysis.leaderboard import build_leaderboard, primary_contrast
from bench.analysis.leaderboard_formats import caption, format_comparison, format_leaderboard
from bench.analysis.stats import holm, paired_t_pvalue, sign_flip_pvalue, smallest_sign_flip_p
from bench.cli.main import main
from bench.records import MetricRow
from bench.suite.config import SuiteError, parse_suite

SEEDS = range(10)
# Per-seed final diversity: baseline 0.5; "strong" +0.1 on every seed; "weak" and "noise" mixed signs.
OFFSETS = {
    "replace": [0.0] * 10,
    "strong": [0.1, 0.12, 0.08, 0.11, 0.09, 0.1, 0.13, 0.07, 0.1, 0.1],
    "weak": [0.02, -0.01, 0.03, 0.01, -0.02, 0.02, 0.01, 0.0, 0.03, -0.01],
    "noise": [0.05, -0.05, 0.04, -0.04, 0.03, -0.03, 0.02, -0.02, 0.01, -0.01],
}


def rows() -> list[MetricRow]:
    return [
        MetricRow("run", "suite", scenario, seed, g, "diversity_levenshtein", 0.5 + offsets[seed] * g, True)
        for scenario, offsets in OFFSETS.items()
        for seed in SEEDS
        for g in range(2)
    ]


def test_smallest_attainable_p_is_what_the_sign_flip_test_gives_all_one_sign():
    for n in range(1, 16):
        assert smallest_sign_flip_p(n) == pytest.approx(sign_flip_pvalue([1.0 + 0.1 * i for i in range(n)]))
    assert smallest_sign_flip_p(3) == 0.25 and smallest_sign_flip_p(5) == 0.0625
    assert smallest_sign_flip_p(40) == pytest.approx(1 / 100_001)  # sampled above 20 seeds


def test_paired_t_pvalue_is_the_textbook_formula():
    x = [0.3, -0.1, 0.5, 0.2, 0.4]
    mean = sum(x) / 5
    sd = math.sqrt(sum((v - mean) ** 2 for v in x) / 4)
    t = mean / (sd / math.sqrt(5))
    assert paired_t_pvalue(x) == pytest.approx(2 * sps.t.sf(abs(t), df=4), rel=1e-12)
    assert paired_t_pvalue([0.0, 0.0]) == 1.0
    assert paired_t_pvalue([1.0]) is None and paired_t_pvalue([2.0, 2.0]) is None


def test_the_primary_contrast_is_first_uncorrected_and_out_of_the_holm_family():
    board = build_leaderboard(rows(), contrast=("weak", "diversity_levenshtein"))
    assert board[0].scenario == "weak"
    key = ("diversity_levenshtein", "final")
    primary = board[0].comparisons[key]
    assert primary.primary and primary.p_holm is None and primary.p_reported == primary.p_value
    others = [r for r in board if key in r.comparisons and not r.comparisons[key].primary]
    assert {r.scenario for r in others} == {"strong", "noise"}
    expected = holm([r.comparisons[key].p_value for r in others])  # Holm over 2 rows, not 3
    assert [r.comparisons[key].p_holm for r in others] == expected
    assert all(r.comparisons[key].p_reported == r.comparisons[key].p_holm for r in others)
    assert "(primary)" in format_comparison(board[0], "diversity_levenshtein")
    assert "pre-registered primary contrast ('weak' on diversity_levenshtein final)" in caption(board)
    row = json.loads(format_leaderboard(board, "json"))[0]
    assert row["diversity_levenshtein_final_diff_primary"] is True
    assert row["diversity_levenshtein_final_diff_p_reported"] == row["diversity_levenshtein_final_diff_p"]
    # The AUC comparison of the same row stays in its Holm family.
    assert board[0].comparisons[("diversity_levenshtein", "auc")].p_holm is not None


def test_without_a_contrast_every_row_is_holm_corrected():
    board = build_leaderboard(rows())
    key = ("diversity_levenshtein", "final")
    compared = [r for r in board if key in r.comparisons]
    assert len(compared) == 3 and not any(r.comparisons[key].primary for r in compared)
    assert "Holm-corrected across rows" in caption(board)


def test_the_t_test_is_offered_and_stated():
    board = build_leaderboard(rows(), test="t")
    strong = next(r for r in board if r.scenario == "strong")
    diffs = OFFSETS["strong"]
    assert strong.comparisons[("diversity_levenshtein", "final")].p_value == pytest.approx(paired_t_pvalue(diffs))
    assert "paired t-test" in caption(board)
    assert json.loads(format_leaderboard(board, "json"))[1]["diversity_levenshtein_final_diff_test"] == "t"
    with pytest.raises(ValueError, match="unknown test"):
        build_leaderboard(rows(), test="z")


def test_primary_contrast_is_read_from_the_stored_config():
    assert primary_contrast(json.dumps({"primary": {"scenario": "a", "metric": "correct"}})) == ("a", "correct")
    assert primary_contrast(json.dumps({"primary": None})) is None


@pytest.mark.parametrize(
    ("primary", "message"),
    [
        ({"scenario": "nope", "metric": "correct"}, "primary.scenario 'nope' is not a scenario"),
        ({"scenario": "replace", "metric": "correct"}, "is the baseline"),
        ({"scenario": "filtered", "metric": "corect"}, "primary.metric 'corect' is not a known metric"),
    ],
)
def test_a_bad_primary_contrast_is_refused_in_one_line(primary, message):
    with pytest.raises(SuiteError, match=message) as caught:
        parse_suite({**MICRO, "primary": primary})
    assert "\n" not in str(caught.value)


def test_validate_prints_the_smallest_attainable_p_and_warns(tmp_path, capsys):
    path = write_suite(tmp_path / "two.yaml", MICRO)  # 2 seeds, 1 compared row
    assert main(["validate", str(path)]) == 0
    captured = capsys.readouterr()
    line = next(x for x in captured.out.splitlines() if x.startswith("smallest attainable p:"))
    assert "0.5 for one comparison" in line
    assert "warning" in captured.err and "p < 0.05" in captured.err
    ten = write_suite(
        tmp_path / "ten.yaml",
        {**MICRO, "seeds": list(range(10)), "primary": {"scenario": "filtered", "metric": "correct"}},
    )
    assert main(["validate", str(ten)]) == 0
    captured = capsys.readouterr()
    assert "0.00195 for the primary contrast (filtered on correct, uncorrected)" in captured.out
    assert "warning" not in captured.err
    # 6 seeds and 3 more scenarios: the contrast reaches 0.031, the 3 Holm-corrected rows only 0.094; the warning
    # names those rows, not "a comparison", which the contrast is.
    extra = [{"name": f"s{i}", "regime": {"kind": "replace"}} for i in range(3)]
    six = write_suite(
        tmp_path / "six.yaml",
        {**MICRO, "seeds": list(range(6)), "scenarios": [*MICRO["scenarios"], *extra],
         "primary": {"scenario": "filtered", "metric": "correct"}},
    )  # fmt: skip
    assert main(["validate", str(six)]) == 0
    captured = capsys.readouterr()
    assert "the Holm-corrected rows cannot reach p < 0.05" in captured.err and "a comparison" not in captured.err


def test_a_run_with_a_primary_contrast_reports_it_first(tmp_path, capsys):
    data = {
        **MICRO,
        "seeds": list(range(4)),
        "generations": 3,
        "model": {"kind": "empirical"},
        "sampling": {"temperature": 1.0},
        "primary": {"scenario": "accumulate", "metric": "simpson_diversity"},
        "scenarios": [
            {"name": "replace", "regime": {"kind": "replace"}},
            {"name": "accumulate", "regime": {"kind": "accumulate"}},
            {"name": "balanced", "regime": {"kind": "fixed_real", "fraction": 0.5, "source": "original"}},
        ],
    }
    path = write_suite(tmp_path / "s.yaml", data)
    results = tmp_path / "results"
    assert main(["run", str(path), "--results", str(results), "--quiet", "--allow-cpu"]) == 0
    capsys.readouterr()
    assert main(["leaderboard", "--results", str(results), "--format", "json", "--test", "t"]) == 0
    board = json.loads(capsys.readouterr().out)
    assert board[0]["scenario"] == "accumulate"
    assert board[0]["simpson_diversity_final_diff_primary"] is True
    assert board[0]["simpson_diversity_final_diff_test"] == "t"
    assert board[0]["simpson_diversity_final_diff_p_holm"] is None
    balanced = next(r for r in board if r["scenario"] == "balanced")
    assert balanced["simpson_diversity_final_diff_p_reported"] == balanced["simpson_diversity_final_diff_p_holm"]
    # Against another baseline the contrast does not apply: every row is Holm-corrected.
    assert main(["leaderboard", "--results", str(results), "--format", "json", "--baseline", "balanced"]) == 0
    other = json.loads(capsys.readouterr().out)
    assert not any(r.get("simpson_diversity_final_diff_primary") for r in other)


def test_a_primary_contrast_on_a_metric_the_baseline_lacks_somewhere_is_reported_as_not_computable():
    """A rarefied metric is undefined where a seed has too few samples; the contrast then cannot be computed, and
    the board says so instead of comparing generation 0 (what it once did, every scenario sharing that model)."""
    extra = [
        MetricRow("run", "suite", scenario, seed, g, "semantic_unique_at_k", 10.0 + seed, True)
        for scenario in OFFSETS
        for seed in SEEDS
        for g in range(2)
        if not (scenario == "replace" and seed == 3 and g == 1)  # fewer than k correct samples there
    ]
    board = build_leaderboard([*rows(), *extra], contrast=("strong", "semantic_unique_at_k"))
    by = {r.scenario: r for r in board}
    assert by["replace"].undefined == {"semantic_unique_at_k"} and by["replace"].n_generations == 2
    assert ("semantic_unique_at_k", "final") not in by["strong"].comparisons
    assert ("diversity_levenshtein", "final") in by["strong"].comparisons  # the other metric keeps its final
    # Asked for alone, the metric still does not shorten its scenario (which generations finished is read from
    # every row), nor drop a seed that lacks it everywhere.
    from bench.analysis.leaderboard import collect_curves

    alone = collect_curves([*rows(), *extra], ["semantic_unique_at_k"])["replace"]
    assert (alone.n_generations, alone.undefined, alone.seeds) == (2, {"semantic_unique_at_k"}, tuple(SEEDS))
    text = caption(board)
    assert "primary contrast ('strong' on semantic_unique_at_k final) could not be computed" in text
    assert "not defined in every generation of replace" in text
    assert json.loads(format_leaderboard(board, "json"))[-1].get("undefined_metrics") in (
        None,
        ["semantic_unique_at_k"],
    )
