"""The command-line contract: outputs, exit codes, and clean failures (exit 2, one line, nothing written)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.cli import main, normalize_argv

ROOT = Path(__file__).resolve().parent.parent


def bench(*args: str, stdin: str | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    # Two torch threads, as the pinned smoke metrics were made with: the thread count can change float sums.
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    return subprocess.run(
        [sys.executable, "-m", "bench", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=600,
    )


def assert_clean_failure(result: subprocess.CompletedProcess, *needles: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in result.stderr


def test_shorthand_suite_argument_means_run():
    assert normalize_argv(["suites/smoke.yaml", "--results", "x"]) == [
        "run",
        "suites/smoke.yaml",
        "--results",
        "x",
    ]
    assert normalize_argv(["leaderboard"]) == ["leaderboard"]


def test_verify_labels_each_line(capsys, monkeypatch):
    import io

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
    assert_clean_failure(bench(str(suite), "--results", str(results), cwd=tmp_path), "sampling.temperature")
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


@pytest.mark.slow
def test_smoke_suite_end_to_end(tmp_path):
    """The README's run: the smoke suite on CPU, then the leaderboard, the report and the regression gate."""
    results = tmp_path / "results"
    run = bench("run", "suites/smoke.yaml", "--results", str(results), "--quiet")
    assert run.returncode == 0, run.stderr
    assert "finished" in run.stdout
    board = json.loads(bench("leaderboard", "--results", str(results), "--format", "json").stdout)
    assert {row["scenario"] for row in board} == {"replace", "balanced", "verifier_filter", "replace_cold"}
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
    # The numbers are pinned: a refactor that changes any metric row (timing aside) fails here. Regenerate
    # tests/data/smoke_metrics.json only for a change meant to change numbers, and say so in its commit.
    import duckdb

    with duckdb.connect(str(results / "bench.duckdb"), read_only=True) as con:
        got = {
            tuple(r[:4]): r[4]
            for r in con.execute("SELECT scenario, seed, generation, metric, value FROM metrics").fetchall()
        }
    pinned = {tuple(r[:4]): r[4] for r in json.loads((ROOT / "tests" / "data" / "smoke_metrics.json").read_text())}
    assert set(got) >= set(pinned)
    changed = [(key, pinned[key], got[key]) for key in pinned if got[key] != pytest.approx(pinned[key], rel=1e-9)]
    assert not changed, changed[:5]
    # Rerunning the finished suite does no work and adds no rows.
    again = bench("run", "suites/smoke.yaml", "--results", str(results), "--quiet")
    assert again.returncode == 0 and "0 generation(s) run, 24 already done" in again.stdout


@pytest.mark.slow
def test_identities_smoke_suite_end_to_end(tmp_path):
    """The identities task through the whole harness: run, leaderboard with the semantic metrics, report."""
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
