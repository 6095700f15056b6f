"""The regression gate (bench/analysis/check.py) on small hand-made baselines with hand-computed outcomes."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from bench.analysis.check import (
    DEFAULT_TOLERANCES,
    EXIT_PASS,
    EXIT_REGRESSION,
    FORMAT_VERSION,
    Baseline,
    CheckReport,
    Tolerance,
    compare,
    dump_baseline,
    format_check,
    gated_direction,
    load_baseline,
    make_baseline,
    write_baseline,
)
from bench.analysis.leaderboard import build_leaderboard
from bench.records import MetricRow

METRICS = ("diversity_levenshtein", "correct", "unique_ratio")


def row(scenario: str, **values: float | None) -> dict:
    """A leaderboard row (``BoardRow.to_dict()``): every gated value 0.5 unless given, with CI, interval-method,
    diff and p-value columns like the real one."""
    out: dict = {"scenario": scenario, "n_seeds": 3, "n_generations": 5, "baseline": "replace", "confidence": 0.95}
    for m in METRICS:
        for kind in ("final", "auc"):
            out[f"{m}_{kind}"] = 0.5
            out[f"{m}_{kind}_ci_low"] = 0.4
            out[f"{m}_{kind}_ci_high"] = 0.6
            out[f"{m}_{kind}_ci"] = "t"
            out[f"{m}_{kind}_diff"] = None
            out[f"{m}_{kind}_diff_ci_low"] = None
            out[f"{m}_{kind}_diff_ci_high"] = None
            out[f"{m}_{kind}_diff_ci"] = None
            out[f"{m}_{kind}_diff_p"] = None
            out[f"{m}_{kind}_diff_p_holm"] = None
    out["collapse_one_output_median"] = None
    out["collapse_one_output_events"] = 0
    out.update(values)
    return out


@pytest.fixture
def baseline() -> Baseline:
    return make_baseline([row("replace"), row("balanced")], suite="nightly")


def statuses(report: CheckReport) -> dict[tuple[str, str], str]:
    return {(f.scenario, f.field): f.status for f in report.findings}


def test_identical_results_pass(baseline: Baseline) -> None:
    report = compare([row("replace"), row("balanced")], baseline)
    assert report.passed and report.exit_code == EXIT_PASS
    # 2 scenarios x 3 metrics x (final, auc)
    assert len(report.findings) == 12
    assert set(statuses(report).values()) == {"ok"}
    assert all(f.delta == 0.0 for f in report.findings)


def test_drop_beyond_tolerance_regresses(baseline: Baseline) -> None:
    report = compare([row("replace", correct_final=0.44), row("balanced")], baseline)
    assert not report.passed and report.exit_code == EXIT_REGRESSION
    (bad,) = report.by_status("regressed")
    assert (bad.scenario, bad.field) == ("replace", "correct_final")
    assert bad.baseline == 0.5 and bad.current == 0.44
    assert bad.delta == pytest.approx(-0.06)
    assert bad.tolerance == 0.05
    assert "REGRESSED" in format_check(report) and "replace correct_final" in format_check(report)


def test_drop_within_tolerance_passes(baseline: Baseline) -> None:
    # 0.5 -> 0.46 is a drop of 0.04 < 0.05; exactly 0.05 (0.45) passes too despite float rounding.
    report = compare([row("replace", correct_final=0.46, unique_ratio_auc=0.45), row("balanced")], baseline)
    assert report.passed
    assert statuses(report)[("replace", "correct_final")] == "ok"
    assert statuses(report)[("replace", "unique_ratio_auc")] == "ok"


def test_rise_beyond_tolerance_is_improved_and_passes(baseline: Baseline) -> None:
    report = compare([row("replace", diversity_levenshtein_auc=0.6), row("balanced")], baseline)
    assert report.passed
    (good,) = report.by_status("improved")
    assert (good.scenario, good.field) == ("replace", "diversity_levenshtein_auc")
    assert good.delta == pytest.approx(0.1)
    assert "IMPROVED" in format_check(report)


def test_missing_scenario_fails_and_new_scenario_passes(baseline: Baseline) -> None:
    report = compare([row("replace"), row("fresh_25")], baseline)
    assert not report.passed
    assert report.missing_scenarios == ["balanced"]
    assert report.new_scenarios == ["fresh_25"]
    assert {f.scenario for f in report.by_status("missing")} == {"balanced"}
    assert len(report.by_status("missing")) == 6
    text = format_check(report)
    assert "FAILED" in text and "balanced" in text and "fresh_25" in text


def test_only_new_scenarios_pass(baseline: Baseline) -> None:
    report = compare([row("replace"), row("balanced"), row("extra")], baseline)
    assert report.passed and report.new_scenarios == ["extra"]


def test_missing_value_in_current_run_fails(baseline: Baseline) -> None:
    report = compare([row("replace", correct_auc=None), row("balanced", correct_final=math.nan)], baseline)
    assert not report.passed
    assert statuses(report)[("replace", "correct_auc")] == "missing"
    assert statuses(report)[("balanced", "correct_final")] == "missing"


def test_relative_tolerance_and_per_metric_override() -> None:
    base = make_baseline(
        [row("replace", correct_final=0.8)],
        suite="s",
        tolerances={"correct": {"absolute": 0.0, "relative": 0.1}},
    )
    assert base.tolerances["correct"] == Tolerance(absolute=0.0, relative=0.1)
    assert base.tolerances["unique_ratio"].model_dump() == DEFAULT_TOLERANCES["unique_ratio"]
    # allowed drop = 0.1 * 0.8 = 0.08: 0.73 passes, 0.71 regresses; correct_auc 0.5 allows 0.05.
    ok = compare([row("replace", correct_final=0.73)], base)
    assert ok.passed
    bad = compare([row("replace", correct_final=0.71, correct_auc=0.46)], base)
    assert statuses(bad)[("replace", "correct_final")] == "regressed"
    assert statuses(bad)[("replace", "correct_auc")] == "ok"
    assert next(f for f in bad.findings if f.field == "correct_final").tolerance == pytest.approx(0.08)


def test_lower_is_better_metric_is_direction_aware() -> None:
    # invalid is lower-is-better in the metric registry; the baseline file does not (and cannot) say so.
    base = make_baseline(
        [{"scenario": "replace", "invalid_final": 0.10, "invalid_auc": 0.10}],
        suite="s",
        tolerances={"invalid": {"absolute": 0.02}},
    )
    assert "higher_is_better" not in base.model_dump()
    report = compare([{"scenario": "replace", "invalid_final": 0.15, "invalid_auc": 0.05}], base)
    assert statuses(report) == {
        ("replace", "invalid_final"): "regressed",
        ("replace", "invalid_auc"): "improved",
    }
    assert all(not f.higher_is_better for f in report.findings)
    assert "lower is better" in format_check(report)


def invalid_baseline() -> Baseline:
    """Gate only ``invalid`` (lower is better): 0.10 at both summaries, 0.02 allowed."""
    return make_baseline(
        [{"scenario": "replace", "invalid_final": 0.10, "invalid_auc": 0.10}],
        suite="s",
        tolerances={"invalid": {"absolute": 0.02}},
    )


def test_gating_invalid_fails_when_it_rises(tmp_path: Path) -> None:
    # The bug this guards against: a baseline without a direction for `invalid` gated it as higher-is-better, so
    # a rise in invalid output (a regression) passed as an improvement. Directions now come from the registry.
    rising = [{"scenario": "replace", "invalid_final": 0.13, "invalid_auc": 0.125}]  # +0.03, +0.025 > 0.02
    report = compare(rising, invalid_baseline())
    assert not report.passed and report.exit_code == EXIT_REGRESSION
    assert {f.field for f in report.by_status("regressed")} == {"invalid_final", "invalid_auc"}
    path = tmp_path / "b.json"
    write_baseline(path, invalid_baseline())
    report = compare(rising, load_baseline(path))
    assert report.exit_code == EXIT_REGRESSION
    text = format_check(report)
    assert "FAILED" in text and "lower is better" in text


def test_gating_invalid_passes_when_it_falls(tmp_path: Path) -> None:
    falling = [{"scenario": "replace", "invalid_final": 0.05, "invalid_auc": 0.09}]  # -0.05 improved, -0.01 ok
    report = compare(falling, invalid_baseline())
    assert report.passed and report.exit_code == EXIT_PASS
    assert statuses(report) == {("replace", "invalid_final"): "improved", ("replace", "invalid_auc"): "ok"}
    path = tmp_path / "b.json"
    write_baseline(path, invalid_baseline())
    assert compare(falling, load_baseline(path)).exit_code == EXIT_PASS
    # A rise within the tolerance (exactly 0.02) passes too.
    assert compare([{"scenario": "replace", "invalid_final": 0.12, "invalid_auc": 0.12}], invalid_baseline()).passed


def test_gated_direction_comes_from_the_metric_registry() -> None:
    assert gated_direction("correct") is True
    assert gated_direction("unique_ratio") is True
    assert gated_direction("invalid") is False
    assert gated_direction("compression_ratio") is False
    with pytest.raises(ValueError, match="cannot gate 'length_mean'.*descriptive"):
        gated_direction("length_mean")
    with pytest.raises(ValueError, match="cannot gate 'invalidd'.*did you mean 'invalid'"):
        gated_direction("invalidd")


@pytest.mark.parametrize(("metric", "message"), [("length_mean", "descriptive"), ("no_such_metric", "unknown")])
def test_gating_a_metric_without_direction_is_bad_input(tmp_path: Path, metric: str, message: str) -> None:
    base = make_baseline([{"scenario": "a", f"{metric}_final": 3.0}], suite="s", tolerances={metric: {"absolute": 1.0}})
    with pytest.raises(ValueError, match=message):
        compare([{"scenario": "a", f"{metric}_final": 3.0}], base)
    path = tmp_path / "b.json"
    write_baseline(path, base)
    with pytest.raises(ValueError, match=metric):  # from the file too: the CLI's exit 2
        compare([{"scenario": "a", f"{metric}_final": 3.0}], load_baseline(path))


def test_compare_direction_can_be_injected(baseline: Baseline) -> None:
    # A custom direction callable replaces the registry (e.g. for a plugin's metric): here everything is
    # lower-is-better, so a rise of correct_final by 0.06 regresses and a drop improves.
    lower = {m: False for m in DEFAULT_TOLERANCES}
    report = compare(
        [row("replace", correct_final=0.56), row("balanced", correct_final=0.44)], baseline, direction=lower.__getitem__
    )
    assert statuses(report)[("replace", "correct_final")] == "regressed"
    assert statuses(report)[("balanced", "correct_final")] == "improved"


def test_real_leaderboard_rows_gate_end_to_end(tmp_path: Path) -> None:
    """BoardRow.to_dict() rows (what `bench check` passes) write a baseline and gate against it."""

    def rows(correct_final_shift: float) -> list[MetricRow]:
        out = []
        for scenario, div in (("replace", 0.3), ("balanced", 0.6)):
            for seed in (0, 1, 2):
                for g in range(3):
                    values = {
                        "diversity_levenshtein": div - 0.05 * g + 0.01 * seed,
                        "correct": 0.7 + 0.05 * g + (correct_final_shift if g == 2 else 0.0),
                        "unique_ratio": 0.9 - 0.1 * g,
                        "invalid": 0.1,
                        "unique_count": 100.0 - 10 * g,
                    }
                    for metric, value in values.items():
                        out.append(MetricRow("r", "nightly", scenario, seed, g, metric, value, None))
        return out

    good = [r.to_dict() for r in build_leaderboard(rows(0.0))]
    assert any(isinstance(v, str) and k.endswith("_ci") for k, v in good[0].items())  # interval-method columns
    path = tmp_path / "baselines" / "nightly.json"
    write_baseline(path, make_baseline(good, suite="nightly"))
    stored = json.loads(path.read_text())
    assert "higher_is_better" not in stored and stored["format_version"] == 2
    assert [r.as_dict() for r in load_baseline(path).rows] == good  # strings, None and floats survive the round trip
    same = compare(good, load_baseline(path), suite="nightly")
    assert same.exit_code == EXIT_PASS, format_check(same)
    worse = [r.to_dict() for r in build_leaderboard(rows(-0.1))]  # correct at the last generation drops by 0.1
    report = compare(worse, load_baseline(path), suite="nightly")
    assert {(f.scenario, f.field) for f in report.by_status("regressed")} == {
        ("replace", "correct_final"),
        ("balanced", "correct_final"),
    }
    assert report.notes == []


def test_notes_on_different_seeds_and_suite(baseline: Baseline) -> None:
    report = compare([row("replace", n_seeds=2), row("balanced")], baseline, suite="smoke")
    assert report.passed
    assert any("n_seeds is 2 now, 3 in the baseline" in n for n in report.notes)
    assert any("'nightly'" in n and "'smoke'" in n for n in report.notes)


def test_baseline_null_value_is_not_gated() -> None:
    base = make_baseline([row("replace", correct_auc=math.nan)], suite="s")
    assert base.rows[0].as_dict()["correct_auc"] is None
    report = compare([row("replace", correct_auc=0.0)], base)
    assert report.passed and ("replace", "correct_auc") not in statuses(report)


def test_make_baseline_unwraps_numpy_scalars() -> None:
    np = pytest.importorskip("numpy")
    base = make_baseline([{"scenario": "a", "n_seeds": np.int64(3), "correct_final": np.float64(0.25)}], "s")
    assert base.rows[0].as_dict() == {"scenario": "a", "n_seeds": 3, "correct_final": 0.25}
    assert type(base.rows[0].as_dict()["n_seeds"]) is int
    json.dumps(base.model_dump(), allow_nan=False)


def test_write_then_load_round_trip(tmp_path: Path, baseline: Baseline) -> None:
    path = tmp_path / "baselines" / "nightly.json"
    write_baseline(path, baseline)
    assert load_baseline(path) == baseline
    assert compare([row("replace"), row("balanced")], load_baseline(path)).exit_code == EXIT_PASS
    report = compare([row("replace", correct_final=0.1), row("balanced")], load_baseline(path))
    assert report.exit_code == EXIT_REGRESSION and "FAILED" in format_check(report)


def test_hand_written_minimal_baseline_gets_defaults(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    path.write_text(json.dumps({"suite": "x", "rows": [{"scenario": "a", "correct_final": 0.9}]}))
    base = load_baseline(path)
    assert {m: t.model_dump() for m, t in base.tolerances.items()} == DEFAULT_TOLERANCES
    assert base.format_version == FORMAT_VERSION == 2
    assert "higher_is_better" not in base.model_dump()  # directions come from the metric registry
    report = compare([{"scenario": "a", "correct_final": 0.84}], base)
    assert [f.status for f in report.findings] == ["regressed"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "JSON object at the top"),
        ('{"rows": []}', "suite: required key missing"),
        ('{"suite": "s"}', "rows: required key missing"),
        ('{"suite": "s", "rows": {}}', "rows: must be a list"),
        ('{"suite": 3, "rows": []}', "suite: must be a string, got 3"),
        ('{"suite": "", "rows": []}', "suite: string should have at least 1 character"),
        ('{"suite": "s", "rows": [7]}', r"rows\[0\]: must be an object"),
        ('{"suite": "s", "rows": [{"correct_final": 1}]}', r"rows\[0\]\.scenario: required key missing"),
        ('{"suite": "s", "rows": [{"scenario": 5}]}', r"rows\[0\]\.scenario: must be a string"),
        ('{"suite": "s", "rows": [{"scenario": "a"}, {"scenario": "a"}]}', "rows: scenario 'a' appears twice"),
        ('{"suite": "s", "rows": [{"scenario": "a", "correct_final": "high"}]}', "'correct_final' must be a number"),
        ('{"suite": "s", "rows": [{"scenario": "a", "n_seeds": true}]}', "'n_seeds' must be a number"),
        ('{"suite": "s", "rows": [{"scenario": "a", "x": [1]}]}', r"rows\[0\]\.x: must be a string, a number"),
        ('{"suite": "s", "rows": [{"scenario": "a", "x": 1e400}]}', r"rows\[0\]\.x: must be finite"),
        ('{"suite": "s", "rows": [], "tolerances": {"correct": {"absolute": -1}}}', "greater than or equal to 0"),
        ('{"suite": "s", "rows": [], "tolerances": {"correct": {"absolute": "0.1"}}}', "must be a number"),
        ('{"suite": "s", "rows": [], "tolerances": {"correct": {"abs": 0.1}}}', "unknown key 'tolerances.correct.abs'"),
        ('{"suite": "s", "rows": [], "tolerances": {"correct": {}}}', "tolerances.correct: is empty"),
        ('{"suite": "s", "rows": [], "tolerances": {"correct": 0.1}}', "tolerances.correct: must be an object"),
        ('{"suite": "s", "rows": [], "higher_is_better": {"correct": true}}', r"unknown key 'higher_is_better'"),
        ('{"suite": "s", "rows": [], "format_version": 1}', "format_version: 1 is not supported"),
        ('{"suite": "s", "rows": [], "extra": 1}', "unknown key 'extra'; allowed: format_version, rows"),
        ('{"suite": "s", "rows": [], "format_version": 99}', "format_version"),
        ('{"suite": "s", "rows": [{"scenario": "a", "correct_final": NaN}]}', "NaN"),
    ],
)
def test_malformed_baseline_is_a_clear_value_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=message) as info:
        load_baseline(path)
    assert "bad.json" in str(info.value) and "\n" not in str(info.value)


def test_missing_baseline_file_names_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "nope.json"
    with pytest.raises(ValueError, match="does not exist.*--write-baseline"):
        load_baseline(path)


def test_malformed_current_rows_are_bad_input(baseline: Baseline) -> None:
    with pytest.raises(ValueError, match="appears twice"):
        compare([row("replace"), row("replace")], baseline)
    with pytest.raises(ValueError, match="no 'scenario'"):
        compare([{"correct_final": 0.5}], baseline)


def test_the_shipped_baseline_reads_and_writes_back_byte_for_byte() -> None:
    """baselines/smoke.json through the model and back: the same keys, values and bytes (the file format did not
    change when the hand-written validation became a Pydantic model)."""
    path = Path(__file__).resolve().parents[1] / "baselines" / "smoke.json"
    assert dump_baseline(load_baseline(path)) == path.read_text(encoding="utf-8")


def test_every_field_of_the_baseline_file_is_described() -> None:
    schema = Baseline.model_json_schema()
    for model in ("Baseline", "Tolerance", "BaselineRow"):
        properties = schema["properties"] if model == "Baseline" else schema["$defs"][model]["properties"]
        assert properties and all(field.get("description") for field in properties.values()), model
