"""The store and runs under faults: an outside DuckDB connection, a read-only results directory, damaged or replaced
artifacts, fsck, failing cells, merge from a corrupt source, leftovers and SIGTERM.

Most tests use the empirical learner (milliseconds per generation); the checkpoint tests use the micro transformer.
A crash is simulated as a real one looks: the rows of the unfinished generations are gone, their files may remain.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from conftest import MICRO, ROOT, bench, make_plugin, write_suite

from bench.run.sequential import run_suite
from bench.store.database import Store
from bench.store.errors import DatabaseBusyError
from bench.suite.config import load_suite

pytestmark = pytest.mark.slow

EMPIRICAL = {
    "suite": "faults",
    "seeds": [0, 1],
    "generations": 4,
    "baseline": "replace",
    "checkpoints": "none",
    "task": {"name": "logic", "params": {"min_depth": 2, "max_depth": 4}},
    "data": {"size": 60},
    "model": {"kind": "empirical"},
    "scenarios": [
        {"name": "replace", "regime": {"kind": "replace"}},
        {"name": "subsample", "regime": {"kind": "accumulate_subsample"}},
    ],
}


def tables(root: Path) -> dict[str, list[tuple]]:
    """What must be identical after a redo: every number and the keys of the finished generations."""
    store = Store(root)
    return {
        "metrics": store.table("metrics"),
        "drops": store.table("drops"),
        "generations": [row[:4] for row in store.table("generations")],
    }


def run(suite_path: Path, results: Path):
    return run_suite(load_suite(suite_path), suite_path, results, show_progress=False)


def cli(capsys, *args: str) -> subprocess.CompletedProcess:
    """The command line in this process (for commands that need no process of their own)."""
    from bench.cli.main import main

    code = main(list(args))
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, captured.out, captured.err)


def forget(results: Path, run_id: str, scenario: str, seed: int, first: int) -> None:
    """A crash before generations ``first``… were recorded: their rows are missing (their files may remain)."""
    with duckdb.connect(str(results / "bench.duckdb")) as con:
        for table in ("metrics", "drops", "generations"):
            con.execute(
                f"DELETE FROM {table} WHERE run_id = ? AND scenario = ? AND seed = ? AND generation >= ?",  # noqa: S608
                [run_id, scenario, seed, first],
            )


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("bench: error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    root = tmp_path_factory.mktemp("clean")
    suite_path = write_suite(root / "faults.yaml", EMPIRICAL)
    summary = run(suite_path, root / "results")
    assert summary.finished and not summary.failed
    return suite_path, root / "results", summary.run_id


@pytest.fixture
def copy(clean, tmp_path):
    """A private copy of the clean results, to damage."""
    suite_path, results, run_id = clean
    target = tmp_path / "results"
    shutil.copytree(results, target)
    return suite_path, target, run_id


# -- the database under contention ------------------------------------------------------------------------------

HOLDER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "ro")
print("held", flush=True)
sys.stdin.read()  # hold until the test closes our stdin
con.close()
"""


class Holder:
    """A real DuckDB connection held open by another process (like the duckdb CLI or a notebook)."""

    def __init__(self, database: Path, read_only: bool = False) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(database), "ro" if read_only else "rw"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout.readline().strip() == "held"

    def release(self) -> None:
        self.process.stdin.close()
        assert self.process.wait(timeout=30) == 0


def test_an_outside_connection_makes_a_run_wait_then_exit_2_and_a_rerun_finishes(clean, tmp_path, capsys, monkeypatch):
    suite_path, clean_results, _ = clean
    results = tmp_path / "results"
    results.mkdir()
    holder = Holder(results / "bench.duckdb")  # an outside writer holds the file before the run starts
    monkeypatch.setenv("BENCH_DB_WAIT", "1.5")
    started = time.monotonic()
    blocked = cli(capsys, "run", str(suite_path), "--results", str(results), "--quiet")
    waited = time.monotonic() - started
    line = one_error_line(blocked.stderr)
    assert blocked.returncode == 2 and "another process holds bench.duckdb open" in line and waited >= 1.5
    # Readers wait the same way, and fail the same way.
    monkeypatch.setenv("BENCH_DB_WAIT", "0.5")
    reader = cli(capsys, "leaderboard", "--results", str(results))
    assert reader.returncode == 2 and "bench.duckdb" in one_error_line(reader.stderr)
    holder.release()
    assert run(suite_path, results).finished
    assert tables(results) == tables(clean_results)


def test_an_outside_connection_taken_during_a_run_stops_it_cleanly_and_the_rerun_is_identical(
    clean, tmp_path, monkeypatch
):
    """The outside process takes the database between two of the run's transactions."""
    suite_path, clean_results, _ = clean
    results = tmp_path / "results"
    holders: list[Holder] = []
    record = Store.record_generations

    def take_database_after_first_write(self, records):
        record(self, records)
        if not holders:
            holders.append(Holder(self.database))

    monkeypatch.setenv("BENCH_DB_WAIT", "1")
    monkeypatch.setattr(Store, "record_generations", take_database_after_first_write)
    # Store every generation at once (no batching).
    monkeypatch.setattr("bench.run.session.Recorder.__init__.__defaults__", (0.0, False))
    with pytest.raises(DatabaseBusyError, match="another process holds bench.duckdb open"):
        run(suite_path, results)
    holders[0].release()
    monkeypatch.setattr(Store, "record_generations", record)
    summary = run(suite_path, results)
    assert summary.finished and summary.generations_skipped > 0
    assert tables(results) == tables(clean_results)


def test_readers_share_the_database_with_an_outside_read_only_connection(clean, capsys, monkeypatch):
    _, results, _ = clean
    monkeypatch.setenv("BENCH_DB_WAIT", "1")
    holder = Holder(results / "bench.duckdb", read_only=True)
    try:
        board = cli(capsys, "leaderboard", "--results", str(results), "--format", "csv")
        assert board.returncode == 0, board.stderr
    finally:
        holder.release()


def read_only_prefix(results: Path) -> list[str]:
    """How to run a command that cannot write ``results``: chmod -R a-w is enough for a normal user; root writes
    anyway, so as root the command runs in its own mount namespace over a read-only bind mount of ``results``."""
    if os.geteuid() != 0:
        return []
    if shutil.which("unshare") is None:
        pytest.skip("running as root without unshare: cannot make a read-only results directory")
    script = 'mount --bind "$0" "$0" && mount -o remount,ro,bind "$0" "$0" && exec "$@"'
    probe = subprocess.run(["unshare", "-m", "sh", "-c", script, str(results), "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"running as root and no read-only bind mount here: {probe.stderr.decode().strip()}")
    return ["unshare", "-m", "sh", "-c", script, str(results)]


def test_every_reading_command_works_on_a_read_only_results_directory(clean, tmp_path):
    _, clean_results, run_id = clean
    results = tmp_path / "results"
    shutil.copytree(clean_results, results)
    out = tmp_path / "out"
    out.mkdir()
    for path in [results, *results.rglob("*")]:
        path.chmod(path.stat().st_mode & ~0o222)
    prefix = read_only_prefix(results)
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), "MPLCONFIGDIR": str(out / "mpl")}
    try:
        denied = subprocess.run([*prefix, "sh", "-c", f"touch {results}/probe"], capture_output=True)
        assert denied.returncode != 0  # the directory really is read-only to these commands
        before = sorted((p, p.stat().st_mtime_ns) for p in results.rglob("*"))
        commands = [
            ["leaderboard", "--results", str(results)],
            ["leaderboard", "--results", str(results), "--suite", "faults", "--format", "json"],
            ["report", "--results", str(results), "--out", str(out / "report")],
            ["check", "--results", str(results), "--write-baseline", str(out / "baseline.json")],
            ["check", "--results", str(results), "--against", str(out / "baseline.json")],
            ["merge", str(results), "--into", str(out / "merged")],
            ["fsck", "--results", str(results)],
            ["runs", "--results", str(results)],
        ]
        # One process runs every command (through the real entry point), so the libraries load once.
        script = (
            "import json, sys\nfrom bench.cli.main import main\n"
            "codes = [main(c) for c in json.loads(sys.argv[1])]\nprint('exit codes', json.dumps(codes))"
        )
        done = subprocess.run(
            [*prefix, sys.executable, "-c", script, json.dumps(commands)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=environment,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines()[-1] == "exit codes " + json.dumps([0] * len(commands)), done.stderr
        listing = subprocess.run(
            [
                *prefix,
                sys.executable,
                "-c",
                f"from bench.store.database import Store; print(Store({str(results)!r}).runs())",
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=environment,
        )
        assert listing.returncode == 0 and run_id in listing.stdout, listing.stderr
        assert Store(out / "merged").count_rows() == Store(results).count_rows()
        assert sorted((p, p.stat().st_mtime_ns) for p in results.rglob("*")) == before  # nothing written
    finally:
        for path in [results, *results.rglob("*")]:
            path.chmod(path.stat().st_mode | 0o200)


# -- damaged artifacts ------------------------------------------------------------------------------------------


def _generation(results: Path, run_id: str, scenario: str, seed: int, generation: int) -> Path:
    return Store(results).generation_dir(run_id, scenario, seed, generation)


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


DAMAGE = {
    "missing selected.parquet": ("replace", 1, lambda d, other: (d / "selected.parquet").unlink()),
    "truncated data.parquet": ("replace", 2, lambda d, other: _truncate(d / "data.parquet")),
    "replaced selected.parquet": (
        "replace",
        2,
        lambda d, other: shutil.copyfile(other / "selected.parquet", d / "selected.parquet"),
    ),
    # accumulate_subsample reads every earlier selection, so generation 0's is an input of generation 3
    "replaced history": (
        "subsample",
        0,
        lambda d, other: shutil.copyfile(other / "selected.parquet", d / "selected.parquet"),
    ),
}


@pytest.mark.parametrize("kind", sorted(DAMAGE))
def test_a_damaged_input_is_redone_with_identical_tables(clean, copy, kind):
    _, clean_results, _ = clean
    suite_path, results, run_id = copy
    scenario, damaged, damage = DAMAGE[kind]
    forget(results, run_id, scenario, 0, 3)  # crashed before generation 3 was recorded
    target = _generation(results, run_id, scenario, 0, damaged)
    before = (target / "selected.parquet").read_bytes() + (target / "data.parquet").read_bytes()
    damage(target, _generation(results, run_id, scenario, 1, damaged))
    after = b"".join((target / n).read_bytes() for n in ("selected.parquet", "data.parquet") if (target / n).exists())
    assert after != before  # the damage is real

    summary = run(suite_path, results)
    assert summary.finished
    assert len(summary.redone) == 1 and f"redoing from generation {damaged}" in summary.redone[0]
    assert summary.generations_run == 4 - damaged
    assert tables(results) == tables(clean_results)


@pytest.mark.parametrize("what", ["model file", "whole folder"])
def test_another_seeds_generation_zero_in_the_cache_is_not_used(clean, copy, what):
    _, clean_results, _ = clean
    suite_path, results, run_id = copy
    caches = {
        json.loads((f / "manifest.json").read_text())["payload"]["seed"]: f for f in (results / "cache").iterdir()
    }
    forget(results, run_id, "replace", 0, 0)
    forget(results, run_id, "subsample", 0, 0)
    if what == "model file":
        shutil.copyfile(caches[1] / "model" / "empirical.json", caches[0] / "model" / "empirical.json")
    else:
        shutil.rmtree(caches[0])
        shutil.copytree(caches[1], caches[0])
    summary = run(suite_path, results)
    assert summary.finished and summary.generations_run == 8
    assert tables(results) == tables(clean_results)


def test_the_generation_zero_key_covers_version_and_training_code(clean):
    from bench.learners import LearnerSetup
    from bench.run.loop import Cell, generation_zero_payload
    from bench.tasks import get_task

    suite_path, results, run_id = clean
    suite = load_suite(suite_path)
    scenario = suite.resolved_scenarios()[0]
    setup = LearnerSetup(task=get_task("logic"), training=scenario.training, accelerator=None)
    cell = Cell(run_id, "faults", scenario, 0, "none", Store(results), setup)
    payload = generation_zero_payload(cell)
    assert payload["version"] and len(payload["code"]) == 64


# -- checkpoints (the micro transformer) ------------------------------------------------------------------------

WARM = {**MICRO, "seeds": [0], "scenarios": [{"name": "replace", "regime": {"kind": "replace"}}]}
WARM["model"] = {**MICRO["model"], "init": "warm"}


@pytest.fixture(scope="module")
def warm_clean(tmp_path_factory):
    root = tmp_path_factory.mktemp("warm")
    suite_path = write_suite(root / "warm.yaml", {**WARM, "checkpoints": "all"})
    assert run(suite_path, root / "results").finished
    return suite_path, root / "results"


@pytest.mark.parametrize("damage", ["truncated model.safetensors", "missing config.json"])
def test_a_damaged_checkpoint_is_redone_with_identical_tables(warm_clean, tmp_path, damage):
    suite_path, clean_results = warm_clean
    results = tmp_path / "results"
    shutil.copytree(clean_results, results)
    (run_id,) = [r.run_id for r in Store(results).runs()]
    forget(results, run_id, "replace", 0, 2)
    model = _generation(results, run_id, "replace", 0, 1) / "model"
    if damage.startswith("truncated"):
        _truncate(model / "model.safetensors")
    else:
        (model / "config.json").unlink()
    summary = run(suite_path, results)
    assert summary.finished and summary.generations_run == 2 and "redoing from generation 1" in summary.redone[0]
    assert tables(results) == tables(clean_results)


def test_warm_start_without_checkpoints_keeps_none_and_resumes_identically(tmp_path):
    suite_path = write_suite(tmp_path / "warm.yaml", {**WARM, "checkpoints": "none"})
    results = tmp_path / "results"
    summary = run(suite_path, results)
    assert summary.finished
    assert not list((results / "artifacts").rglob("model"))  # none kept once no generation needs it
    reference = tables(results)
    # A crash before the last generation: its warm start needs generation 1's pruned checkpoint, so the cell is
    # redone from generation 0 (the shared cache), with the same numbers.
    forget(results, summary.run_id, "replace", 0, 2)
    again = run(suite_path, results)
    assert again.finished and again.generations_run == 3 and "redoing from generation 0" in again.redone[0]
    assert tables(results) == reference
    assert not list((results / "artifacts").rglob("model"))


# -- fsck -------------------------------------------------------------------------------------------------------


def test_fsck_reports_and_repairs(clean, copy, capsys):
    _, clean_results, _ = clean
    suite_path, results, run_id = copy
    assert cli(capsys, "fsck", "--results", str(results)).returncode == 0
    _truncate(_generation(results, run_id, "replace", 1, 2) / "samples.parquet")
    shutil.copytree(results / "artifacts" / run_id, results / "artifacts" / "gone-run")  # orphaned run folder
    (results / "artifacts" / run_id / "replace" / "seed-0" / "gen-001" / "x-999999.tmp").write_text("partial")
    cache = next((results / "cache").iterdir())
    (cache / "fit.json").write_text("{}")
    staging = results / "cache" / f".gen0-abc-{socket.gethostname()}-999999999-x"
    staging.mkdir()

    found = cli(capsys, "fsck", "--results", str(results))
    assert found.returncode == 1
    report = found.stdout
    assert "damaged: " in report and "samples.parquet" in report
    assert "orphan: " in report and "gone-run" in report and ".tmp" in report and ".gen0-abc" in report
    assert "damaged-cache: " in report

    repaired = cli(capsys, "fsck", "--results", str(results), "--repair")
    # A run folder no run of the database names is not provably bench's: listed and kept, never deleted.
    assert repaired.returncode == 1 and "kept 1 item" in repaired.stdout, repaired.stderr
    assert (results / "artifacts" / "gone-run").is_dir()
    shutil.rmtree(results / "artifacts" / "gone-run")
    assert cli(capsys, "fsck", "--results", str(results)).returncode == 0
    assert Store(results).runs()[0].status == "running"
    summary = run(suite_path, results)
    assert summary.finished and summary.generations_run == 2
    assert tables(results) == tables(clean_results)
    assert cli(capsys, "fsck", "--results", str(results)).returncode == 0


def test_fsck_without_a_database_is_bad_input(tmp_path, capsys):
    done = cli(capsys, "fsck", "--results", str(tmp_path))
    assert done.returncode == 2 and "no results database" in one_error_line(done.stderr)


# -- runs that fail ---------------------------------------------------------------------------------------------


def test_a_failing_cell_is_recorded_and_the_others_finish(tmp_path):
    plugin = make_plugin(tmp_path / "plugin")
    suite = {
        **EMPIRICAL,
        "scenarios": [
            *EMPIRICAL["scenarios"],
            # every logic sample of depth >= 2 is longer than one token: this mitigation drops them all
            {"name": "capped", "regime": {"kind": "replace"}, "mitigations": [{"name": "length_cap", "max_tokens": 1}]},
        ],
    }
    suite_path = write_suite(tmp_path / "failing.yaml", suite)
    results = tmp_path / "results"
    env = {"PYTHONPATH": os.pathsep.join([str(plugin), str(ROOT)])}
    # Processes of their own: the plugin is found through its entry point on PYTHONPATH.
    done = bench("run", str(suite_path), "--results", str(results), "--quiet", env=env, process=True)
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if line.startswith("bench: error: cell ")]
    assert errors == [line for line in done.stderr.splitlines() if line.strip()]
    assert [e.split(" failed at")[0] for e in errors] == [
        "bench: error: cell capped seed 0",
        "bench: error: cell capped seed 1",
    ]
    assert all("generation 1" in e and "NoSamplesLeftError" in e for e in errors)
    store = Store(results)
    (run_id,) = [r.run_id for r in store.runs()]
    assert store.runs()[0].status == "failed"
    assert [f[:3] for f in store.failures(run_id)] == [("capped", 0, 1), ("capped", 1, 1)]
    keys = {row[1:4] for row in store.table("generations")}
    assert {(s, seed, g) for s in ("replace", "subsample") for seed in (0, 1) for g in range(4)} <= keys
    assert ("capped", 0, 0) in keys and ("capped", 0, 1) not in keys  # what finished is kept
    # The readers pick this run (it has finished generations) and say so.
    board = bench("leaderboard", "--results", str(results), "--format", "csv", env=env, process=True)
    assert board.returncode == 0 and f"using run {run_id}" in board.stderr


def test_readers_choose_the_newest_run_with_finished_generations(clean, copy, capsys):
    suite_path, results, run_id = copy
    store = Store(results)
    time.sleep(0.01)
    store.begin_run("faults-crashed", "faults", "x.yaml", "h", {}, "replace", None, {}, "cpu")  # a newer, empty run
    for command in ("leaderboard", "check"):
        extra = ("--write-baseline", str(results.parent / "b.json")) if command == "check" else ()
        done = cli(capsys, command, "--results", str(results), "--suite", "faults", *extra)
        assert done.returncode == 0, done.stderr
        notes = [line for line in done.stderr.splitlines() if line.strip()]
        assert notes == [f"bench: using run {run_id} (suite faults, finished)"]


# -- merge ------------------------------------------------------------------------------------------------------


def test_merge_from_a_corrupt_source_creates_nothing(tmp_path, capsys):
    source = tmp_path / "source"
    source.mkdir()
    (source / "bench.duckdb").write_bytes(b"not a database" * 100)
    target = tmp_path / "target"
    done = cli(capsys, "merge", str(source), "--into", str(target))
    assert done.returncode == 2 and "bench.duckdb" in one_error_line(done.stderr)
    assert not target.exists()


def test_merge_never_follows_symlinks_in_the_source_artifacts(clean, copy, tmp_path, capsys):
    _, results, run_id = copy
    secret = tmp_path / "secret.txt"
    secret.write_text("outside the results")
    outside = tmp_path / "outside-folder"
    outside.mkdir()
    (outside / "f.txt").write_text("outside")
    cell = results / "artifacts" / run_id / "replace" / "seed-0"
    (cell / "gen-000" / "link.txt").symlink_to(secret)
    (cell / "linked-folder").symlink_to(outside, target_is_directory=True)
    target = tmp_path / "target"
    done = cli(capsys, "merge", str(results), "--into", str(target))
    assert done.returncode == 0, done.stderr
    copied = target / "artifacts" / run_id / "replace" / "seed-0"
    assert (copied / "gen-000" / "data.parquet").is_file()
    assert not (copied / "gen-000" / "link.txt").exists() and not (copied / "linked-folder").exists()


# -- leftovers and signals --------------------------------------------------------------------------------------


def test_leftovers_of_dead_processes_go_at_the_next_start(clean, copy):
    suite_path, results, run_id = copy
    host = socket.gethostname()
    generation = _generation(results, run_id, "replace", 0, 1)
    dead_tmp = generation / f".data.parquet-{host}-999999999-abc.tmp"
    old_tmp = generation / "tmpq1w2e3.tmp"
    live_tmp = generation / f".data.parquet-{host}-{os.getpid()}-abc.tmp"
    dead_staging = results / "cache" / f".gen0-0123-{host}-999999999-xyz"
    for path in (dead_tmp, old_tmp, live_tmp):
        path.write_text("partial")
    dead_staging.mkdir()
    (dead_staging / "fit.json").write_text("{}")
    summary = run(suite_path, results)
    assert summary.generations_run == 0
    assert not dead_tmp.exists() and not old_tmp.exists() and not dead_staging.exists()
    assert live_tmp.exists()  # a live process's file is left alone


def test_sigterm_says_the_run_can_be_resumed(tmp_path):
    long = {**EMPIRICAL, "suite": "long", "seeds": [0], "generations": 40, "scenarios": EMPIRICAL["scenarios"][:1]}
    long_suite = write_suite(tmp_path / "long.yaml", long)
    results = tmp_path / "results"
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "bench", "run", str(long_suite), "--results", str(results), "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=environment,
    )
    deadline = time.monotonic() + 120
    while not list(results.glob("artifacts/*/*/seed-0/gen-002")) and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines == ["bench: terminated (SIGTERM); finished generations are saved, rerun the same command to resume"]
    resumed = run(long_suite, results)
    assert resumed.finished and resumed.generations_skipped >= 2


# -- old databases ----------------------------------------------------------------------------------------------


def test_a_database_from_before_digests_is_read_and_migrated(clean, copy, capsys):
    suite_path, results, run_id = copy
    with duckdb.connect(str(results / "bench.duckdb")) as con:
        con.execute("ALTER TABLE generations DROP COLUMN artifacts")
        con.execute("DROP TABLE failures")
    board = cli(capsys, "leaderboard", "--results", str(results))
    assert board.returncode == 0, board.stderr
    forget(results, run_id, "replace", 0, 3)
    summary = run(suite_path, results)  # the writer adds the column; old rows are checked for presence only
    assert summary.finished and summary.generations_run == 1
    with duckdb.connect(str(results / "bench.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM generations WHERE artifacts IS NOT NULL").fetchone() == (1,)
