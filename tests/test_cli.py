"""The command-line contract: outputs, exit codes, and clean failures (exit 2, one line, nothing written)."""

from __future__ import annotations

import io
import json
import math
import sys
from pathlib import Path

import pytest
from conftest import ROOT, bench
from conftest import assert_one_line_failure as assert_clean_failure
from smoke_pins import LOSS_REL, metric_rows, pins_of

from bench.cli.main import main, normalize_argv


def test_shorthand_suite_argument_means_run():
    assert normalize_argv(["suites/smoke.yaml", "--results", "x"]) == [
        "run",
        "suites/smoke.yaml",
        "--results",
        "x",
    ]
    assert normalize_argv(["leaderboard"]) == ["leaderboard"]


def test_verify_labels_each_line(capsys, monkeypatch):
    stdin = io.TextIOWrapper(io.BytesIO(b"True and False\nnot False\n__import__('os')\n( )\n"))
    monkeypatch.setattr(sys, "stdin", stdin)
    assert main(["verify", "--task", "logic"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.split("\n") if line]
    assert [r["label"] for r in records] == ["incorrect", "correct", "invalid", "invalid"]
    assert records[0]["text"] == "True and False" and "reason" in records[2]


def test_score_prints_one_json_object(tmp_path, capsys):
    path = tmp_path / "samples.txt"
    path.write_text("True\nTrue\nFalse or True\nTrue and\n")
    assert main(["score", "--task", "logic", str(path)]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["n"] == 4
    assert scores["correct"] == 0.75 and scores["invalid"] == 0.25
    assert scores["unique_count"] == 3
    for key in ("diversity_levenshtein", "distinct_1", "distinct_4", "compression_ratio", "unique_ratio"):
        assert key in scores


@pytest.mark.parametrize(
    "args,needles",
    [
        (["score", "--task", "logic", "absent.txt"], ["absent.txt", "no such file"]),
        (["score", "--task", "chess", "x"], ["unknown task 'chess'"]),
        (["verify", "--task", "logik"], ["unknown task 'logik'", "did you mean 'logic'"]),
        (["validate", "absent.yaml"], ["absent.yaml: no such file"]),
    ],
)
def test_bad_input_exits_2_with_one_message(args, needles, tmp_path):
    assert_clean_failure(bench(*args, cwd=tmp_path), *needles)


def test_bad_suite_creates_nothing(tmp_path):
    suite = tmp_path / "bad.yaml"
    suite.write_text(
        "suite: x\nseeds: [0]\ngenerations: 2\nscenarios:\n  - name: a\n    regime: {kind: replace}\n"
        "sampling: {temperature: -1}\n"
    )
    results = tmp_path / "results"
    result = bench("run", str(suite), "--results", str(results), cwd=tmp_path)
    assert_clean_failure(result, "bad.yaml", "sampling.temperature")
    assert not results.exists()
    # The shorthand (a suite file as the first argument), in a process of its own: the real exit code and stderr.
    shorthand = bench(str(suite), "--results", str(results), cwd=tmp_path, process=True)
    assert_clean_failure(shorthand, "sampling.temperature")
    assert_clean_failure(bench("validate", str(suite), cwd=tmp_path), "sampling.temperature")


def test_bad_shard_exits_2(tmp_path):
    result = bench("run", str(ROOT / "suites" / "smoke.yaml"), "--shard", "3/2", "--results", str(tmp_path / "r"))
    assert_clean_failure(result, "--shard")
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("command", [["leaderboard"], ["report", "--out", "out"], ["check", "--against", "b.json"]])
def test_reading_commands_on_missing_or_empty_results_exit_2(command, tmp_path):
    assert_clean_failure(bench(*command, "--results", str(tmp_path / "absent"), cwd=tmp_path), "no results")
    (tmp_path / "empty").mkdir()
    assert_clean_failure(bench(*command, "--results", str(tmp_path / "empty"), cwd=tmp_path), "no results")
    assert not (tmp_path / "out").exists()


def test_validate_accepts_every_shipped_suite():
    # The text suites name a model folder the user builds first; tests/test_text.py validates them against one.
    needs_local_files = {"text_smoke.yaml", "text_cpu.yaml", "shumailov.yaml", "shumailov_smollm2.yaml"}
    for path in sorted((ROOT / "suites").glob("*.yaml")):
        if path.name not in needs_local_files:
            assert main(["validate", str(path)]) == 0


# -- the shipped smoke suite, end to end (the README's run) ------------------------------------------------------

SMOKE_SCENARIOS = {"replace", "balanced", "verifier_filter", "replace_cold"}
# replace_cold samples at temperature 0.4: it shares generation 0's model, not its samples.
SAMPLED_AT_0_8 = SMOKE_SCENARIOS - {"replace_cold"}
# The metrics every logic run records; other metrics may come and go without touching these tests.
CORE_METRICS = {"correct", "incorrect", "invalid", "diversity_levenshtein", "unique_ratio", "val_loss", "real_nll"}
CORE_METRICS |= {"real_ppl", "data_size", "data_real_share", "data_synthetic_share"}
# Fewer steps and samples for the tests that need a whole loop but not the shipped suite's numbers.
REDUCED = ["--set", "seeds=[0]", "--set", "generations=2", "--set", "training.max_iters=16"]
REDUCED += ["--set", "data.size=120", "--set", "sampling.batch_size=120"]


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory) -> tuple[Path, object]:
    """One true run of the shipped smoke suite, exactly as the README starts it; the tests below read it."""
    results = tmp_path_factory.mktemp("smoke") / "results"
    run = bench("run", "suites/smoke.yaml", "--results", str(results), "--quiet")
    assert run.returncode == 0, run.stderr
    return results, run


@pytest.mark.slow
def test_smoke_suite_end_to_end(smoke_run, tmp_path):
    """The README's run: the smoke suite on CPU, then the leaderboard, the report and the regression gate."""
    results, run = smoke_run
    assert "finished" in run.stdout
    board = json.loads(bench("leaderboard", "--results", str(results), "--format", "json").stdout)
    assert {row["scenario"] for row in board} == SMOKE_SCENARIOS
    for row in board:
        assert row["n_seeds"] == 2 and row["n_generations"] == 3
        assert row["diversity_levenshtein_final_ci_low"] <= row["diversity_levenshtein_final"]
        assert row["diversity_levenshtein_final"] <= row["diversity_levenshtein_final_ci_high"]
    filtered = next(row for row in board if row["scenario"] == "verifier_filter")
    assert filtered["correct_final_diff"] is not None
    for fmt in ("table", "md", "csv"):
        assert bench("leaderboard", "--results", str(results), "--format", fmt).returncode == 0
    report = bench("report", "--results", str(results), "--out", str(tmp_path / "report"))
    assert report.returncode == 0, report.stderr
    for name in ("verdicts.png", "diversity.png", "index.html"):
        assert (tmp_path / "report" / name).stat().st_size > 0
    baseline = tmp_path / "baseline.json"
    assert bench("check", "--results", str(results), "--write-baseline", str(baseline)).returncode == 0
    check = bench("check", "--results", str(results), "--against", str(baseline))
    assert check.returncode == 0, check.stdout + check.stderr
    # The committed baseline (the README's `bench check` example) came from a real run of this suite: it passes.
    gate = bench("check", "--results", str(results), "--against", str(ROOT / "baselines" / "smoke.json"))
    assert gate.returncode == 0, gate.stdout + gate.stderr
    # Rerunning the finished suite does no work and adds no rows.
    rows = metric_rows(results)
    again = bench("run", "suites/smoke.yaml", "--results", str(results), "--quiet")
    assert again.returncode == 0 and "0 generation(s) run, 24 already done" in again.stdout
    assert metric_rows(results) == rows


@pytest.mark.slow
def test_smoke_numbers_match_the_pins_where_no_cpu_can_move_them(smoke_run):
    """Pinned (tests/smoke_pins.py says what and why): the rows no model touches, exactly, and generation 0's losses
    to a relative 1e-3. Regenerate tests/data/smoke_metrics.json with the command in tests/smoke_pins.py."""
    rows = metric_rows(smoke_run[0])
    got = pins_of(rows)
    pinned = json.loads((ROOT / "tests" / "data" / "smoke_metrics.json").read_text())
    hint = "a change meant to move these numbers regenerates the pins: see tests/smoke_pins.py"
    assert {tuple(r[:4]): r[4] for r in got["exact"]} == {tuple(r[:4]): r[4] for r in pinned["exact"]}, hint
    losses = {tuple(r[:4]): r[4] for r in got["generation0_losses"]}
    expected = {tuple(r[:4]): r[4] for r in pinned["generation0_losses"]}
    assert set(losses) == set(expected), hint
    moved = [
        (key, expected[key], losses[key])
        for key in expected
        if losses[key] != pytest.approx(expected[key], rel=LOSS_REL)
    ]
    assert not moved, (hint, moved[:5])


@pytest.mark.slow
def test_smoke_numbers_are_in_range_in_every_generation(smoke_run):
    """What holds on any CPU in every generation: the keys, the regimes' data shares, and sane ranges."""
    rows = metric_rows(smoke_run[0])
    keys = {key[:3] for key in rows}
    assert keys == {(s, seed, g) for s in SMOKE_SCENARIOS for seed in (0, 1) for g in range(3)}
    for key in keys:
        assert CORE_METRICS <= {metric for *k, metric in rows if tuple(k) == key}, key

    def value(scenario: str, seed: int, generation: int, metric: str) -> float:
        return rows[(scenario, seed, generation, metric)]

    for scenario, seed, generation in keys:
        label_shares = [value(scenario, seed, generation, m) for m in ("correct", "incorrect", "invalid")]
        assert all(0.0 <= share <= 1.0 for share in label_shares) and math.isclose(sum(label_shares), 1.0)
        assert 0.0 < value(scenario, seed, generation, "diversity_levenshtein") <= 1.0
        assert 0.0 < value(scenario, seed, generation, "unique_ratio") <= 1.0
        nll = value(scenario, seed, generation, "real_nll")
        # Trained models beat the uniform guess over the logic vocabulary (ln 11 nats a token) on real data.
        assert 0.0 < nll < math.log(11) and math.isclose(value(scenario, seed, generation, "real_ppl"), math.exp(nll))
        assert 0.0 < value(scenario, seed, generation, "val_loss") < math.log(11)
        # The regimes set the data's origin whatever the samples are (docs/design.md).
        real = value(scenario, seed, generation, "data_real_share")
        synthetic = value(scenario, seed, generation, "data_synthetic_share")
        if generation == 0:
            assert (real, synthetic) == (1.0, 0.0)
        elif scenario == "balanced":
            assert real == pytest.approx(0.5, abs=1 / value(scenario, seed, generation, "data_size"))
        else:
            assert (real, synthetic) == (0.0, 1.0)
    for seed in (0, 1):  # generation 0 is one fit per seed, shared by every scenario
        for metric in ("val_loss", "real_nll"):
            assert len({value(s, seed, 0, metric) for s in SMOKE_SCENARIOS}) == 1, metric
        for metric in ("correct", "diversity_levenshtein"):  # the same model sampled the same way
            assert len({value(s, seed, 0, metric) for s in SAMPLED_AT_0_8}) == 1, metric
    # The filter trains generation 1 on correct samples only, so its samples are at least as correct as those of
    # the unfiltered loop in most cells; a sanity bound, not a pin: the filtered mean is not far below.
    mean = {s: sum(value(s, seed, g, "correct") for seed in (0, 1) for g in (1, 2)) / 4 for s in SMOKE_SCENARIOS}
    assert mean["verifier_filter"] >= mean["replace"] - 0.1, mean


@pytest.mark.slow
def test_a_run_is_bit_identical_when_repeated(tmp_path):
    """Determinism is a property of one machine: the same suite twice gives the same numbers bit for bit."""
    tables = []
    for name in ("first", "second"):
        results = tmp_path / name
        run = bench("run", "suites/smoke.yaml", "--results", str(results), "--quiet", *REDUCED)
        assert run.returncode == 0, run.stderr
        tables.append(metric_rows(results))
    assert tables[0] == tables[1] and len(tables[0]) > 50


@pytest.mark.slow
def test_identities_smoke_suite_end_to_end(tmp_path):
    """The identities task through the whole harness: run, leaderboard with the semantic metrics, report.

    The shipped suite as it is: with fewer samples or steps (data.size 150, or 20 steps) its tiny model writes no
    correct identity, and the verifier filter has nothing to keep."""
    results = tmp_path / "results"
    run = bench("run", "suites/identities_smoke.yaml", "--results", str(results), "--quiet")
    assert run.returncode == 0, run.stderr
    board = json.loads(bench("leaderboard", "--results", str(results), "--format", "json").stdout)
    assert {row["scenario"] for row in board} == {"replace", "verifier_filter"}
    for row in board:
        assert row["n_seeds"] == 2 and row["n_generations"] == 3
        for metric in ("semantic_unique", "semantic_entropy", "semantic_novelty", "real_nll"):
            assert row[f"{metric}_final"] is not None
        assert row["correct_final_ci"] == "t"  # two seeds: Student-t intervals
    report = bench("report", "--results", str(results), "--out", str(tmp_path / "report"))
    assert report.returncode == 0, report.stderr
