"""The commands people expect: --version, runs, --set, validate --estimate, a closed pipe, progress off a terminal,
and the leaderboard in narrow terminals. Runs use the empirical learner (no training) or a tiny transformer."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import duckdb
import pytest
from conftest import EMPIRICAL, ROOT, bench, in_process, write_suite

LINE = re.compile(
    r"^(replace|filtered) seed [01] gen [0-2]/2: train ([0-9.]+ s|cached), "
    r"diversity [0-9.]+, correct [0-9.]+; suite ETA .+$"
)


def test_version(capsys) -> None:
    from bench import __version__

    assert in_process(capsys, "--version") == (0, f"bench (collapse bench) {__version__}\n", "")


@pytest.mark.slow
def test_plain_progress_lines_off_a_terminal_and_the_log(empirical_run) -> None:
    _, results, run = empirical_run
    lines = run.stderr.splitlines()
    assert len(lines) == 12 and all(LINE.match(line) for line in lines), run.stderr
    assert lines[-1].endswith("suite ETA done")
    (log,) = (results / "logs").glob("tinyemp-*.log")
    assert [line.split(" ", 1)[1] for line in log.read_text().splitlines()] == lines


@pytest.mark.slow
def test_runs_lists_the_runs(empirical_run, tmp_path, capsys) -> None:
    suite, results, _ = empirical_run
    code, out, _ = in_process(capsys, "runs", "--results", str(results))
    assert code == 0
    header, row = out.splitlines()
    assert header.split()[:3] == ["run", "id", "suite"]
    assert row.split()[1:3] == ["tinyemp", "finished"] and row.split()[-2:] == ["4/4", "12/12"]
    code, out, err = in_process(capsys, "runs", "--results", str(tmp_path / "absent"))
    assert (code, out) == (2, "") and err.startswith("bench: error: ") and "no results database" in err


@pytest.mark.slow
@pytest.mark.parametrize("columns", [80, 100])
def test_leaderboard_fits_the_terminal(empirical_run, columns: int, capsys, monkeypatch) -> None:
    _, results, _ = empirical_run
    monkeypatch.setenv("COLUMNS", str(columns))  # what shutil.get_terminal_size reads first
    code, out, _ = in_process(capsys, "leaderboard", "--results", str(results))
    assert code == 0
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= columns
    assert "diversity_levenshtein (higher is better)" in lines
    flat = " ".join(out.split())
    assert re.search(r"run tinyemp-[0-9a-f]{12}, suite tinyemp, commit ([0-9a-f]{12}|unknown), 2 seeds", flat)
    monkeypatch.setenv("COLUMNS", "1000")
    wide = in_process(capsys, "leaderboard", "--results", str(results))[1]
    assert max(len(line) for line in wide.splitlines()) > 100  # the whole table where it fits


@pytest.mark.slow
def test_closed_pipe_exits_quietly(empirical_run) -> None:
    _, results, _ = empirical_run
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "bench", "leaderboard", "--results", str(results)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env=env,
    )
    process.stdout.close()  # the reader is gone before the first byte (`bench leaderboard | head -0`)
    code = process.wait(timeout=600)
    stderr = process.stderr.read().decode()
    process.stderr.close()
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr, stderr
    assert code == 141 and stderr == ""


@pytest.mark.slow
def test_set_changes_the_run_and_bad_values_write_nothing(empirical_run, tmp_path, capsys) -> None:
    suite, results, _ = empirical_run
    plain = in_process(capsys, "validate", str(suite))[1]
    changed = in_process(capsys, "validate", str(suite), "--set", "seeds=[0]", "--set", "generations=2")[1]
    run_ids = [re.search(r"run id (\S+)", text).group(1) for text in (plain, changed)]
    assert run_ids[0] != run_ids[1]
    out = tmp_path / "other"
    run = bench("run", str(suite), "--results", str(out), "--quiet", "--set", "seeds=[0]", "--set", "generations=2")
    assert run.returncode == 0 and run.stderr == "" and run_ids[1] in run.stdout
    with duckdb.connect(str(out / "bench.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM generations").fetchone()[0] == 4  # 2 scenarios × 1 seed × 2
    assert len((out / "logs" / f"{run_ids[1]}.log").read_text().splitlines()) == 4  # --quiet keeps the log
    for bad, needles in (
        ("training.max_iter=100", ("training.max_iter: unknown key",)),
        ("generations=lots", ("generations", "'lots'")),
        ("seeds=[0", ("--set seeds", "not valid YAML")),
        ("scenarios[nope].sampling.temperature=1", ("no item named 'nope'",)),
        ("max_iters", ("expected FIELD=VALUE",)),
    ):
        code, out, err = in_process(capsys, "run", str(suite), "--results", str(tmp_path / "bad"), "--set", bad)
        lines = err.splitlines()
        assert (code, out, len(lines)) == (2, "", 1) and lines[0].startswith("bench: error: "), err
        assert all(needle in lines[0] for needle in needles), lines[0]
    assert not (tmp_path / "bad").exists()


def test_estimate_without_training(tmp_path, capsys) -> None:
    suite = write_suite(tmp_path / "tinyemp.yaml", EMPIRICAL)
    code, text, _ = in_process(capsys, "validate", str(suite), "--estimate")
    assert code == 0
    # Fits: generation 0 once per seed (the scenarios share it) + 2 later generations per cell.
    assert "optimizer steps  none (the learner takes no optimizer steps; 10 fits)" in text
    assert "samples drawn    720" in text  # 2 scenarios × 2 seeds × 3 generations × 60
    assert re.search(r"time +about [0-9.]+ (s|min)", text) and "timed probe of 1 learner setup(s)" in text


@pytest.mark.slow
def test_estimate_counts_match_a_real_run(micro_run) -> None:
    """The counts are what a run does: steps at most the estimate, samples and checkpoint disk exactly."""
    suite, results, _ = micro_run  # the session's run of the micro suite
    estimate = bench("validate", str(suite), "--estimate")
    assert estimate.returncode == 0, estimate.stderr
    steps = int(re.search(r"at most ([0-9,]+)", estimate.stdout).group(1).replace(",", ""))
    assert steps == 10 * 16  # gen 0 once per seed (both scenarios share it) + gens 1-2 per cell, 16 steps each
    assert "samples drawn    1,440" in estimate.stdout  # 2 scenarios × 2 seeds × 3 generations × 120
    disk = re.search(r"checkpoint disk  ([0-9.]+) (kB|MB)", estimate.stdout)
    with duckdb.connect(str(results / "bench.duckdb"), read_only=True) as con:
        # Generation 0 is fitted once per seed and its record repeated for the other scenario: count it once.
        later = con.execute("SELECT sum(train_iterations) FROM generations WHERE generation > 0").fetchone()[0]
        first = con.execute(
            "SELECT sum(i) FROM (SELECT max(train_iterations) AS i FROM generations WHERE generation = 0 GROUP BY seed)"
        ).fetchone()[0]
    assert 0 < later + first <= steps
    # checkpoints: last -> one model per cell, plus the generation-0 cache (one per seed).
    models = [p for p in results.rglob("model") if p.is_dir()]
    assert len(models) == 4 + 2
    used = sum(f.stat().st_size for m in models for f in m.rglob("*") if f.is_file())
    scale = {"kB": 1e3, "MB": 1e6}[disk.group(2)]
    assert used == pytest.approx(float(disk.group(1)) * scale, rel=0.01)
