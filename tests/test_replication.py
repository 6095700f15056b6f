"""The replication of Briesch et al.: the CPU suite has the study's cycles, and the table builder's summaries."""

from __future__ import annotations

import csv
import importlib.util
import math
import sys
from pathlib import Path

import pytest

from bench.analysis.stats import Interval, bootstrap_interval, interval
from bench.records import GenerationRecord, MetricRow, RunRow
from bench.regimes import AccumulateRegime, FixedRealRegime, IncrementalRegime, ReplaceRegime
from bench.run.provenance import git_state
from bench.store.database import Store
from bench.suite.config import load_suite

ROOT = Path(__file__).resolve().parent.parent
SUITE_PATH = ROOT / "suites" / "replication_cpu.yaml"
MORE_PATH = ROOT / "suites" / "replication_more_cpu.yaml"


def _load_builder():
    """docs/replication/build_tables.py is a script, not a package module: load it by path."""
    path = ROOT / "docs" / "replication" / "build_tables.py"
    spec = importlib.util.spec_from_file_location("replication_build_tables", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


bt = _load_builder()

# Student-t quantile t_{0.975, 1} (two seeds), from tables: 12.706205.
T975_1 = 12.706205


# ----------------------------------------------------------------------------------------------------------
# (a) the suite


def test_suite_has_the_study_cycles() -> None:
    """The cycles and the ablation, split over the main suite and its companion with the same settings and seeds."""
    suite = load_suite(SUITE_PATH)
    more = load_suite(MORE_PATH)
    assert suite.suite == bt.SUITE and more.suite == bt.MORE_SUITE
    assert len(suite.seeds) >= 10 and suite.generations >= 10  # 10 seeds: p < 0.05 is attainable after Holm
    assert more.seeds == suite.seeds and more.generations == suite.generations
    assert more.baseline_name() == suite.baseline_name() == "full_synthetic"
    assert (more.data, more.training, more.task) == (suite.data, suite.training, suite.task)
    resolved = {s.name: s for s in [*suite.resolved_scenarios(), *more.resolved_scenarios()]}
    assert more.resolve(more.scenarios[0]) == suite.resolve(suite.scenarios[0])  # the repeated baseline is the same
    regimes = [s.regime for s in resolved.values()]

    assert any(isinstance(r, ReplaceRegime) for r in regimes)
    assert FixedRealRegime(kind="fixed_real", fraction=0.5, source="original") in regimes
    lambdas = {r.synthetic_fraction for r in regimes if isinstance(r, IncrementalRegime)}
    assert {0.5, 0.9} <= lambdas
    phis = {r.fresh_fraction for r in regimes if isinstance(r, AccumulateRegime)}
    assert {0.0, 0.25} <= phis

    replace_temperatures = {s.sampling.temperature for s in resolved.values() if isinstance(s.regime, ReplaceRegime)}
    assert replace_temperatures == {0.6, 0.8, 1.0}
    # The builder's scenario names are the suites'.
    assert set(bt.CYCLE_SCENARIOS) | set(bt.TEMPERATURE_SCENARIOS) == set(resolved)
    assert resolved["full_synthetic"].sampling.temperature == 0.8  # the study's temperature
    assert suite.primary is not None and suite.primary.scenario == "balanced"


# ----------------------------------------------------------------------------------------------------------
# (b) the pure summaries


def test_decline_percent() -> None:
    assert bt.decline_percent(0.5, 0.25) == -50.0
    assert bt.decline_percent(0.4, 0.5) == pytest.approx(25.0)
    assert bt.decline_percent(0.7, 0.7) == 0.0
    with pytest.raises(ValueError, match="non-zero"):
        bt.decline_percent(0.0, 0.3)


def test_first_generation_at_least() -> None:
    assert bt.first_generation_at_least([0.5, 0.98, 0.99, 0.995]) == 2  # >=, not >
    assert bt.first_generation_at_least([1.0, 0.2]) == 0
    assert bt.first_generation_at_least([0.5, 0.989]) is None
    assert bt.first_generation_at_least([]) is None
    assert bt.first_generation_at_least([0.6, 0.7], threshold=0.7) == 1


def rows_from(curves: dict[tuple[str, int], dict[str, list[float]]]) -> list[MetricRow]:
    """MetricRows from {(scenario, seed): {metric: values by generation}}."""
    rows = []
    for (scenario, seed), metrics in curves.items():
        for metric, values in metrics.items():
            for g, v in enumerate(values):
                rows.append(MetricRow("run", "replication_cpu", scenario, seed, g, metric, v, True))
    return rows


def hand_rows() -> list[MetricRow]:
    # Scenario "a": seed 0 declines 0.5 -> 0.25 (-50%), seed 1 0.4 -> 0.3 (-25%); seed 0 reaches 0.99 at gen 1.
    # Scenario "b": seed 1 stopped after generation 1, so "b" is summarized over generations 0..1 only.
    return rows_from(
        {
            ("a", 0): {
                "correct": [0.9, 0.99, 1.0],
                "diversity_levenshtein": [0.5, 0.4, 0.25],
                "unique_count": [100, 80, 50],
            },
            ("a", 1): {
                "correct": [0.5, 0.6, 0.98],
                "diversity_levenshtein": [0.4, 0.4, 0.3],
                "unique_count": [90, 70, 40],
            },
            ("b", 0): {
                "correct": [0.8, 0.9, 0.995],
                "diversity_levenshtein": [0.6, 0.3, 0.1],
                "unique_count": [10, 10, 10],
            },
            ("b", 1): {
                "correct": [0.7, 0.8],
                "diversity_levenshtein": [0.6, 0.45],
                "unique_count": [10, 10],
            },
        }
    )


def test_cycle_summary_hand_computed() -> None:
    a, b = bt.cycle_summary(hand_rows())
    assert list(a) == list(bt.CYCLE_COLUMNS)
    assert (a["scenario"], a["n_seeds"], a["n_generations"], a["seeds"]) == ("a", 2, 3, "0;1")
    assert a["correct_gen0"] == pytest.approx(0.7)
    assert a["correct_gen1"] == pytest.approx(0.795)
    assert a["correct_last"] == pytest.approx(0.99)
    assert a["diversity_gen0"] == pytest.approx(0.45)
    assert a["diversity_last"] == pytest.approx(0.275)
    # Per seed -50% and -25%: mean -37.5%. Two seeds get the Student-t interval: s = 25/√2, s/√2 = 12.5,
    # half-width 12.706205 · 12.5 = 158.83: [-196.33, 121.33] (honestly wide for two seeds).
    assert a["diversity_decline_pct"] == pytest.approx(-37.5)
    assert a["diversity_decline_pct_ci_low"] == pytest.approx(-37.5 - T975_1 * 12.5, abs=1e-4)
    assert a["diversity_decline_pct_ci_high"] == pytest.approx(-37.5 + T975_1 * 12.5, abs=1e-4)
    assert a["diversity_decline_pct_ci_low"] == pytest.approx(-196.33, abs=0.01)
    # correct at generation 0: .9 and .5 -> mean .7, s/√2 = .2, .7 ± 12.706205 · .2.
    assert a["correct_gen0_ci_low"] == pytest.approx(0.7 - T975_1 * 0.2, abs=1e-6)
    assert a["correct_gen0_ci_high"] == pytest.approx(0.7 + T975_1 * 0.2, abs=1e-6)
    assert (a["unique_gen0"], a["unique_last"]) == (pytest.approx(95.0), pytest.approx(45.0))
    assert a["first_gen_correct_099"] == "1;never"

    # "b": horizon cut to generation 1 because seed 1 has no generation 2; seed 0's 0.995 at gen 2 is not seen.
    assert (b["n_generations"], b["seeds"]) == (2, "0;1")
    assert b["correct_last"] == pytest.approx(0.85) and b["correct_last"] == b["correct_gen1"]
    assert b["diversity_decline_pct"] == pytest.approx(-37.5)  # -50% and -25% again
    assert b["first_gen_correct_099"] == "never;never"
    # Identical values give a zero-width interval.
    assert b["unique_gen0"] == b["unique_gen0_ci_low"] == b["unique_gen0_ci_high"] == 10.0


def test_cycle_summary_single_generation_and_selection() -> None:
    rows = [r for r in hand_rows() if r.generation == 0]
    (a,) = bt.cycle_summary(rows, scenarios=["a"])
    assert a["n_generations"] == 1
    assert a["correct_gen1"] is None and a["correct_gen1_ci_low"] is None
    assert a["diversity_decline_pct"] == 0.0 and a["correct_last"] == a["correct_gen0"]
    assert a["first_gen_correct_099"] == "never;never"
    with pytest.raises(ValueError, match="no rows for scenario"):
        bt.cycle_summary(rows, scenarios=["a", "zzz"])


def _bounds(estimate: Interval) -> tuple[float, float | None, float | None]:
    return estimate.mean, estimate.low, estimate.high


def test_per_generation_table() -> None:
    table = bt.per_generation_table(hand_rows(), metrics=("correct", "unique_count"))
    assert [(r["scenario"], r["generation"], r["metric"]) for r in table[:4]] == [
        ("a", 0, "correct"),
        ("a", 0, "unique_count"),
        ("a", 1, "correct"),
        ("a", 1, "unique_count"),
    ]
    assert len(table) == 2 * (3 + 2)  # "a": 3 generations, "b": 2
    a1 = table[2]
    assert a1["mean"] == pytest.approx(0.795) and a1["n_seeds"] == 2
    # correct at generation 1: .99 and .6, s/√2 = .195, half-width 12.706205 · .195 = 2.47771 (Student-t, 2 seeds).
    assert a1["ci_low"] == pytest.approx(0.795 - T975_1 * 0.195, abs=1e-6)
    assert a1["ci_high"] == pytest.approx(0.795 + T975_1 * 0.195, abs=1e-6)
    assert (a1["mean"], a1["ci_low"], a1["ci_high"]) == _bounds(interval([0.99, 0.6]))


def test_intervals_use_the_auto_method() -> None:
    # 10 seeds: the percentile bootstrap (seed 0), the same numbers as bench.analysis.stats.bootstrap_interval.
    values = [0.31, 0.42, 0.27, 0.55, 0.38, 0.61, 0.12, 0.47, 0.33, 0.29]
    rows = rows_from({("x", seed): {"correct": [v]} for seed, v in enumerate(values)})
    (row,) = bt.per_generation_table(rows, metrics=("correct",))
    assert (row["mean"], row["ci_low"], row["ci_high"]) == _bounds(bootstrap_interval(values, seed=0))
    nine = rows_from({("x", seed): {"correct": [v]} for seed, v in enumerate(values[:9])})
    (row,) = bt.per_generation_table(nine, metrics=("correct",))
    assert (row["mean"], row["ci_low"], row["ci_high"]) == _bounds(interval(values[:9], method="t"))


def test_one_seed_has_no_interval() -> None:
    rows = [r for r in hand_rows() if r.seed == 0]
    a, _ = bt.cycle_summary(rows)
    assert a["n_seeds"] == 1 and a["diversity_decline_pct"] == pytest.approx(-50.0)
    for prefix in ("correct_gen0", "correct_gen1", "correct_last", "diversity_decline_pct", "unique_last"):
        assert a[f"{prefix}_ci_low"] is None and a[f"{prefix}_ci_high"] is None
        assert a[prefix] is not None and math.isfinite(a[prefix])
    table = bt.per_generation_table(rows, metrics=("correct",))
    assert all(r["ci_low"] is None and r["ci_high"] is None for r in table)


def test_temperature_table_and_config() -> None:
    # What the store keeps now: Suite.resolved_config(), whose "scenarios" are resolved.
    config = {
        "scenarios": [{"name": "a", "sampling": {"temperature": 0.6}}, {"name": "b", "sampling": {"temperature": 1}}]
    }
    temperatures = bt.scenario_temperatures(config)
    assert temperatures == {"a": 0.6, "b": 1.0}
    # Runs recorded before: the suite's own (unresolved) scenarios, and the resolved ones under "resolved".
    old = {"scenarios": [{"name": "a", "sampling": None}], "resolved": config["scenarios"]}
    assert bt.scenario_temperatures(old) == temperatures
    summary = bt.cycle_summary(hand_rows())
    table = bt.temperature_table(summary, temperatures, scenarios=("b", "missing", "a"))
    assert [(r["scenario"], r["temperature"]) for r in table] == [("b", 1.0), ("a", 0.6)]
    assert list(table[0])[:3] == ["scenario", "temperature", "n_seeds"]
    assert table[1]["diversity_decline_pct"] == pytest.approx(-37.5)


def test_scenario_temperatures_of_the_real_suite_config() -> None:
    # What the runner stores for each run; the builder reads both suites' scenarios.
    temperatures = {
        **bt.scenario_temperatures(load_suite(SUITE_PATH).resolved_config()),
        **bt.scenario_temperatures(load_suite(MORE_PATH).resolved_config()),
    }
    assert {name: temperatures[name] for name in bt.TEMPERATURE_SCENARIOS} == {
        "full_synthetic_t0.6": 0.6,
        "full_synthetic": 0.8,
        "full_synthetic_t1.0": 1.0,
    }
    assert set(temperatures) == set(bt.CYCLE_SCENARIOS) | set(bt.TEMPERATURE_SCENARIOS)


def test_select_run() -> None:
    runs = [
        RunRow(run_id=run_id, suite=suite, config="{}", status="finished")
        for run_id, suite in (("r1", "replication_cpu"), ("x", "other"), ("r2", "replication_cpu"))
    ]
    assert bt.select_run(runs).run_id == "r2"  # the store lists runs by start time: the last is the latest
    assert bt.select_run(runs, "nope") is None


def test_write_csv_rounds_and_blanks(tmp_path: Path) -> None:
    path = bt.write_csv(tmp_path / "t.csv", [{"x": 1 / 3, "y": None, "z": "never"}], ("z", "x", "y"))
    assert path.read_text() == "z,x,y\nnever,0.3333,\n"


# ----------------------------------------------------------------------------------------------------------
# The command line


def test_main_without_results_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert bt.main(["--results", str(tmp_path / "empty"), "--out", str(tmp_path / "out")]) == 2
    assert "no results database" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def _record(store: Store, run_id: str, scenario: str, seed: int, generation: int, metrics: dict[str, float]) -> None:
    store.record_generations(
        [
            GenerationRecord(
                run_id=run_id,
                suite="replication_cpu",
                scenario=scenario,
                seed=seed,
                generation=generation,
                metrics=metrics,
                higher_is_better={m: m not in ("incorrect", "invalid") for m in metrics},
                drops={},
                samples_path="s.parquet",
                data_path="d.parquet",
                checkpoint_path=None,
                train_iterations=150,
                best_val_loss=1.0,
                train_seconds=1.0,
                sample_seconds=0.5,
                useful_tokens_per_second=1.0,
            )
        ]
    )


def test_main_other_suite_only_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = Store(tmp_path / "results")
    store.begin_run("other-1", "other", "o.yaml", "h", {}, "x", None, {}, "cpu")
    assert bt.main(["--results", str(store.root), "--out", str(tmp_path / "out")]) == 2
    assert "no run of suite 'replication_cpu'" in capsys.readouterr().err


@pytest.mark.slow
def test_main_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A tiny store with two scenarios of the ablation: every table and figure is written."""
    store = Store(tmp_path / "results")
    config = {  # the shape of Suite.resolved_config(), cut to what the builder reads
        "scenarios": [
            {"name": "full_synthetic", "sampling": {"temperature": 0.8}},
            {"name": "full_synthetic_t1.0", "sampling": {"temperature": 1.0}},
        ]
    }
    head = git_state().commit  # a clean run at this checkout's HEAD: the builder accepts it
    store.begin_run("r", "replication_cpu", "s.yaml", "h", config, "full_synthetic", head, {}, "cpu", git_dirty=False)
    for scenario, rate in (("full_synthetic", 0.1), ("full_synthetic_t1.0", 0.05)):
        for seed in (0, 1):
            for g in range(3):
                correct = (0.8, 0.9, 1.0)[g]
                _record(
                    store,
                    "r",
                    scenario,
                    seed,
                    g,
                    {
                        "correct": correct,
                        "incorrect": (1 - correct) / 2,
                        "invalid": (1 - correct) / 2,
                        "diversity_levenshtein": 0.6 - rate * g + 0.01 * seed,
                        "unique_count": 100.0 - 10 * g,
                        "unique_ratio": 1.0 - 0.1 * g,
                    },
                )
    out = tmp_path / "out"
    assert bt.main(["--results", str(store.root), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    for name in ("cycles.csv", "per_generation.csv", "temperature.csv", "leaderboard.csv"):
        assert str(out / name) in printed
    with open(out / "cycles.csv", newline="") as handle:
        cycles = list(csv.DictReader(handle))
    assert [r["scenario"] for r in cycles] == ["full_synthetic", "full_synthetic_t1.0"]
    assert cycles[0]["first_gen_correct_099"] == "2;2"
    assert list(cycles[0]) == list(bt.CYCLE_COLUMNS)  # the column names are unchanged
    assert float(cycles[0]["correct_last_ci_low"]) == float(cycles[0]["correct_last"]) == 1.0  # same at both seeds
    with open(out / "per_generation.csv", newline="") as handle:
        assert csv.DictReader(handle).fieldnames == [
            "scenario",
            "generation",
            "metric",
            "n_seeds",
            "mean",
            "ci_low",
            "ci_high",
        ]
    with open(out / "leaderboard.csv", newline="") as handle:
        board = list(csv.DictReader(handle))
    assert {r["scenario"] for r in board} == {"full_synthetic", "full_synthetic_t1.0"}
    (other,) = [r for r in board if r["scenario"] == "full_synthetic_t1.0"]
    assert other["baseline"] == "full_synthetic" and other["diversity_levenshtein_final_ci"] == "t"
    # Final diversity differs by .1 at both seeds: 2 of the 4 sign patterns reach |sum| = .2, p = .5 (one row: Holm
    # leaves it).
    assert float(other["diversity_levenshtein_final_diff_p_holm"]) == 0.5
    with open(out / "temperature.csv", newline="") as handle:
        temperature = list(csv.DictReader(handle))
    assert [(r["scenario"], r["temperature"]) for r in temperature] == [
        ("full_synthetic", "0.8"),
        ("full_synthetic_t1.0", "1.0"),
    ]
    figures = out / "figures"
    for name in ("verdicts.png", "diversity.png", "correct.png", "temperature_diversity.png"):
        assert (figures / name).read_bytes().startswith(b"\x89PNG")


VERDICTS = {"correct": 0.8, "incorrect": 0.1, "invalid": 0.1, "unique_count": 90.0, "unique_ratio": 0.9}


def test_fresh_data_is_compared_with_the_same_cycle_without_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    """The study's fresh-data comparison: expanding with fresh data against expanding, paired by seed, from the
    companion suite's run beside the main one."""
    store = Store(tmp_path / "results")
    head = git_state().commit
    main_config = {
        "scenarios": [{"name": n, "sampling": {"temperature": 0.8}} for n in ("full_synthetic", "expanding")]
    }
    store.begin_run(
        "r", "replication_cpu", "s.yaml", "h", main_config, "full_synthetic", head, {}, "cpu", git_dirty=False
    )
    fresh_config = {"scenarios": [{"name": "expanding_fresh_0.25_disjoint", "sampling": {"temperature": 0.8}}]}
    store.begin_run("f", "replication_fresh_cpu", "f.yaml", "h", fresh_config, "", head, {}, "cpu", git_dirty=False)
    for run_id, scenario, loss in (
        ("r", "full_synthetic", 0.2),
        ("r", "expanding", 0.05),
        ("f", fresh_config["scenarios"][0]["name"], 0.01),
    ):
        for seed in (0, 1, 2):
            for g in range(2):
                _record(
                    store,
                    run_id,
                    scenario,
                    seed,
                    g,
                    {**VERDICTS, "diversity_levenshtein": 0.6 - loss * g - 0.001 * seed},
                )
    out = tmp_path / "out"
    assert bt.main(["--results", str(store.root), "--out", str(out)]) == 0
    assert str(out / "fresh_leaderboard.csv") in capsys.readouterr().out
    with open(out / "fresh_leaderboard.csv", newline="") as handle:
        board = {row["scenario"]: row for row in csv.DictReader(handle)}
    assert set(board) == {"expanding", "expanding_fresh_0.25_disjoint"}
    fresh = board["expanding_fresh_0.25_disjoint"]
    assert fresh["baseline"] == "expanding"
    # +0.04 in final diversity at all three seeds: the exact sign-flip p is 2/8.
    assert float(fresh["diversity_levenshtein_final_diff"]) == pytest.approx(0.04)
    assert float(fresh["diversity_levenshtein_final_diff_p_holm"]) == pytest.approx(0.25)
