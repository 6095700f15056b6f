"""Shared fixtures: a micro suite small enough to run whole loops in seconds on a CPU, the ``bench`` helper that
runs the command line (in this process unless a process of its own is the point), and the Hypothesis profiles."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import settings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent

# Hypothesis: `dev` (the default) caps every property at 100 examples so `make test` stays fast; `nightly`
# (HYPOTHESIS_PROFILE=nightly, `make test-nightly`) runs the counts each test asks for. Tests ask through
# ``examples(n)``, since an explicit ``@settings(max_examples=n)`` would override any profile.
DEV_MAX_EXAMPLES = 100
settings.register_profile("dev", max_examples=DEV_MAX_EXAMPLES)
settings.register_profile("nightly", max_examples=100_000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def examples(wanted: int) -> int:
    """``wanted`` examples under the nightly profile, at most ``DEV_MAX_EXAMPLES`` under dev."""
    return min(wanted, settings.default.max_examples)


def bench(
    *args: str,
    cwd: Path | str = ROOT,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    process: bool = False,
    timeout: float = 600,
) -> subprocess.CompletedProcess:
    """``bench ARGS`` as a finished process: exit code, stdout, stderr.

    By default ``bench.cli.main`` runs in this process (an interpreter start with torch costs seconds, and the
    suite has dozens of these calls). ``process=True`` starts ``python -m bench`` instead: for what only a process
    of its own shows (start-up, signals, pipes, the environment, torch's thread count set by OMP_NUM_THREADS).
    """
    if process:
        environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        return subprocess.run(
            [sys.executable, "-m", "bench", *args],
            input=stdin,
            capture_output=True,
            text=True,
            cwd=cwd,
            env={**environment, **(env or {})},
            timeout=timeout,
        )
    assert not env, "an environment of its own needs process=True"
    from bench.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    old_stdin = sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO((stdin or "").encode()), encoding="utf-8")
    try:
        with contextlib.chdir(cwd), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exit:  # argparse's usage errors and --version
                code = exit.code if isinstance(exit.code, int) else 2
    finally:
        sys.stdin = old_stdin
    return subprocess.CompletedProcess(["bench", *args], code, out.getvalue(), err.getvalue())


def bench_process(*args: str, cwd: Path | str = ROOT, timeout: float = 300) -> subprocess.CompletedProcess:
    """``python -m bench`` in a process of its own, one torch thread, an empty stdin (a prompt must never wait)."""
    return bench(*args, cwd=cwd, timeout=timeout, process=True, stdin="", env={"OMP_NUM_THREADS": "1"})


def cli(capsys, *args: str) -> subprocess.CompletedProcess:
    """``bench.cli.main`` in this process, from the current directory (``capsys`` kept for the callers' fixtures)."""
    return bench(*args, cwd=Path.cwd())


def assert_one_line_failure(result: subprocess.CompletedProcess, *needles: str) -> None:
    """Exit 2, one line on stderr naming each of ``needles``, no traceback."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr


MICRO = {
    "suite": "micro",
    "seeds": [0, 1],
    "generations": 3,
    "checkpoints": "last",
    "task": {"name": "logic", "params": {"max_depth": 3}},
    "data": {"size": 120},
    "model": {"preset": "tiny", "overrides": {"n_embd": 32}},
    "training": {
        "max_iters": 16,
        "batch_size": 4,
        "block_size": 64,
        "learning_rate": 0.003,
        "warmup_iters": 2,
        "eval_interval": 8,
        "patience": 2,
    },
    "sampling": {"batch_size": 120},
    "scenarios": [
        {"name": "replace", "regime": {"kind": "replace"}},
        {"name": "filtered", "regime": {"kind": "replace"}, "mitigations": [{"name": "verifier_filter"}]},
    ],
}


def write_suite(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture
def micro_suite(tmp_path) -> Path:
    return write_suite(tmp_path / "micro.yaml", MICRO)


# Runs that other tests compare with use one torch thread (as a Ray cell does, and as child processes started with
# OMP_NUM_THREADS=1 do), whatever this process was started with: the thread count changes float sums.
ONE_THREAD_ENV = {"OMP_NUM_THREADS": "1"}


@contextlib.contextmanager
def torch_threads(count: int):
    """torch with ``count`` intra-op threads inside the block, as before it after."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture(scope="session")
def micro_run(tmp_path_factory):
    """One finished run of ``MICRO`` on one torch thread, shared by the runner, parallel and command tests.

    Read-only: a test that damages or extends results works on a copy. Returns (suite path, results, summary).
    """
    from bench.run.sequential import run_suite
    from bench.suite.config import load_suite

    root = tmp_path_factory.mktemp("micro")
    suite_path = write_suite(root / "micro.yaml", MICRO)
    with torch_threads(1):
        summary = run_suite(load_suite(suite_path), suite_path, root / "results", show_progress=False)
    assert summary.finished and not summary.failed
    return suite_path, root / "results", summary
