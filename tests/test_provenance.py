"""Provenance: a run records whether its checkout was dirty and a hash of the diff; table builders refuse such runs
and runs whose commit is not in this checkout's history."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import MICRO, write_suite

from bench.records import RunRow
from bench.run.provenance import git_state, publication_problem
from bench.run.sequential import run_suite
from bench.store.database import Store
from bench.suite.config import load_suite

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def git(repo: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    out = subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, check=True, env={**env, "PATH": "/usr/bin:/bin"}
    )
    return out.stdout.decode().strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    (root / "a.txt").write_text("one\n")
    git(root, "add", "a.txt")
    git(root, "commit", "-q", "-m", "first")
    return root


def test_a_clean_checkout_is_not_dirty(repo: Path):
    state = git_state(repo)
    assert state.commit == git(repo, "rev-parse", "HEAD")
    assert state.dirty is False and state.diff_sha256 is None


def test_an_edited_checkout_is_dirty_with_the_hash_of_its_diff(repo: Path):
    (repo / "a.txt").write_text("two\n")
    state = git_state(repo)
    diff = subprocess.run(["git", "diff", "HEAD", "--no-color", "--no-ext-diff"], cwd=repo, capture_output=True)
    assert state.dirty is True and state.diff_sha256 == hashlib.sha256(diff.stdout).hexdigest()
    (repo / "a.txt").write_text("three\n")
    assert git_state(repo).diff_sha256 != state.diff_sha256  # another edit, another hash


def test_an_untracked_file_makes_the_checkout_dirty(repo: Path):
    (repo / "new.py").write_text("x = 1\n")
    assert git_state(repo).dirty is True


def test_the_builders_refuse_dirty_unrecorded_and_foreign_runs(repo: Path):
    head = git(repo, "rev-parse", "HEAD")
    clean = RunRow(run_id="r", suite="s", config="{}", status="finished", git_commit=head, git_dirty=False)
    assert publication_problem(clean, repo) is None
    assert "uncommitted changes" in publication_problem(replace(clean, git_dirty=True), repo)
    assert "not recorded" in publication_problem(replace(clean, git_dirty=None), repo)
    assert "no commit recorded" in publication_problem(replace(clean, git_commit=None), repo)
    foreign = "0" * 40
    assert "not an ancestor of HEAD" in publication_problem(replace(clean, git_commit=foreign), repo)
    # A commit on another branch, not merged: not an ancestor either.
    git(repo, "checkout", "-q", "-b", "side")
    (repo / "a.txt").write_text("side\n")
    git(repo, "commit", "-q", "-am", "side")
    side = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "-")
    assert "not an ancestor" in publication_problem(replace(clean, git_commit=side), repo)


def test_a_run_records_its_checkout_state(tmp_path: Path):
    data = {
        **MICRO,
        "seeds": [0],
        "generations": 1,
        "model": {"kind": "empirical"},
        "scenarios": [{"name": "replace", "regime": {"kind": "replace"}}],
    }
    path = write_suite(tmp_path / "s.yaml", data)
    before = git_state()
    summary = run_suite(load_suite(path), path, tmp_path / "results", show_progress=False)
    run = Store(tmp_path / "results").run(summary.run_id)
    assert (run.git_commit, run.git_dirty, run.git_diff_sha256) == (
        before.commit,
        before.dirty,
        before.diff_sha256,
    )


def test_a_database_from_before_provenance_gains_the_columns(tmp_path: Path):
    import duckdb

    from bench.store.layout import DATABASE
    from bench.store.schema import SCHEMA

    root = tmp_path / "results"
    root.mkdir()
    old_schema = SCHEMA.replace(",\n    git_dirty BOOLEAN,\n    git_diff_sha256 VARCHAR", "")
    assert old_schema != SCHEMA
    con = duckdb.connect(str(root / DATABASE))
    con.execute(old_schema)
    con.close()
    store = Store(root)
    store.begin_run("old-1", "old", "o.yaml", "h", {}, "x", "abc", {}, "cpu", git_dirty=True, git_diff_sha256="d")
    (run,) = store.runs()
    assert run.git_dirty is True and run.git_diff_sha256 == "d"


def test_published_refuses_a_dirty_run_in_one_line(tmp_path: Path, capsys):
    """`bench leaderboard --published` / `bench report --published`: docs' tables never come from uncommitted code."""
    from conftest import cli

    results = tmp_path / "results"
    store = Store(results)
    store.begin_run("dirty-1", "s", "s.yaml", "h", {}, "x", "abc", {}, "cpu", git_dirty=True, git_diff_sha256="d1")
    for command in (["leaderboard"], ["report", "--out", str(tmp_path / "out")]):
        done = cli(capsys, *command, "--results", str(results), "--published")
        errors = [line for line in done.stderr.splitlines() if "error" in line]  # beside the "using run" note
        assert done.returncode == 2 and "Traceback" not in done.stderr
        assert errors == [
            "bench: error: --published: run dirty-1: ran from a checkout with uncommitted changes (diff d1)"
        ]
        assert not (tmp_path / "out").exists()
        plain = cli(capsys, *command, "--results", str(results))  # without the flag the same run is readable
        assert "--published" not in plain.stderr
