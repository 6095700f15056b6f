"""Shared fixtures: a micro suite small enough to run whole loops in seconds on a CPU, a tiny empirical suite and its
one finished run, the ``bench`` helper that runs the command line (in this process unless a process of its own is
the point), the Hypothesis profiles, and the hand-made metric rows, report inputs and plugin that several test
modules use (tests never import each other)."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import textwrap
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml
from hypothesis import settings

from bench.records import MetricRow, RunRow

if TYPE_CHECKING:
    from bench.report.inputs import ReportInputs

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


def in_process(capsys, *args: str) -> tuple[int, str, str]:
    """``main`` in this process, its output read through ``capsys``: (exit code, stdout, stderr)."""
    from bench.cli.main import main

    try:
        code = main(list(args))
    except SystemExit as exit:  # argparse's --version and usage errors
        code = exit.code
    out, err = capsys.readouterr()
    return code, out, err


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


# A tiny suite on the empirical learner (milliseconds a generation): two scenarios × two seeds × three generations,
# whose one finished run (``empirical_run``) the command-line, first-hour, security and hostile-input tests read.
EMPIRICAL = {
    "suite": "tinyemp",
    "seeds": [0, 1],
    "generations": 3,
    "checkpoints": "none",
    "task": {"name": "logic", "params": {"max_depth": 3}},
    "data": {"size": 60},
    "model": {"kind": "empirical"},
    "sampling": {"temperature": 1.0},
    "scenarios": [
        {"name": "replace", "regime": {"kind": "replace"}},
        {"name": "filtered", "regime": {"kind": "replace"}, "mitigations": [{"name": "verifier_filter"}]},
    ],
}
# One cell of it (one scenario, one seed, two generations): for tests that start, or refuse, runs of their own.
EMPIRICAL_ONE_CELL = {
    **EMPIRICAL,
    "suite": "onecell",
    "seeds": [0],
    "generations": 2,
    "data": {"size": 40},
    "scenarios": EMPIRICAL["scenarios"][:1],
}


@pytest.fixture(scope="session")
def empirical_run(tmp_path_factory) -> tuple[Path, Path, subprocess.CompletedProcess]:
    """One finished run of ``EMPIRICAL`` in a process of its own (its stderr a pipe, not a terminal, so it holds
    the plain progress lines), one torch thread: (suite path, results directory, the finished process).

    Read-only: a test that damages or extends results works on a copy (``shutil.copytree(..., symlinks=True)``).
    """
    root = tmp_path_factory.mktemp("empirical")
    suite = write_suite(root / "tinyemp.yaml", EMPIRICAL)
    results = root / "results"
    run = bench("run", str(suite), "--results", str(results), "--allow-cpu", process=True, stdin="", env=ONE_THREAD_ENV)
    assert run.returncode == 0, run.stderr
    return suite, results, run


@pytest.fixture(scope="session")
def empirical_results(empirical_run) -> Path:
    """The results directory of ``empirical_run`` (read-only)."""
    return empirical_run[1]


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


# -- hand-made metric rows with hand-computed statistics (the leaderboard tests) -------------------------------

DL = "diversity_levenshtein"

# Directions as the metric registry declares them (what the loop records in every row).
DIRECTION = {
    "diversity_levenshtein": True,
    "correct": True,
    "unique_ratio": True,
    "unique_count": True,
    "invalid": False,
}


def make_rows(
    data: dict[str, dict[int, dict[str, list[float]]]],
    run_id: str = "run",
    directions: dict[str, bool | None] | None = None,
) -> list[MetricRow]:
    """Rows from ``{scenario: {seed: {metric: [value per generation]}}}``."""
    flags = DIRECTION if directions is None else directions
    return [
        MetricRow(run_id, "suite", scenario, seed, g, metric, v, flags.get(metric))
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
# "mixed" = replace + (.25, -.25, .5): finals .25, .25, 1.0 (mean .5). All shifts are exact in binary.
MIXED_SHIFT = {0: 0.25, 1: -0.25, 2: 0.5}


def _replace_seed(curve: list[float]) -> dict[str, list[float]]:
    # correct: replace rises 0 -> .5 -> 1 for every seed (AUC (.25 + .75)/2 = .5).
    return {
        "diversity_levenshtein": curve,
        "correct": [0.0, 0.5, 1.0],
        "unique_ratio": [1.0, 1.0, 1.0],
        "invalid": [0.5, 0.25, 0.0],
    }


def two_scenarios(directions: dict[str, bool | None] | None = None) -> list[MetricRow]:
    data: dict[str, dict[int, dict[str, list[float]]]] = {"replace": {}, "accumulate": {}}
    for seed, curve in REPLACE.items():
        data["replace"][seed] = _replace_seed(curve)
        # accumulate: correct stays at .5 (AUC .5 each), invalid at .5.
        data["accumulate"][seed] = {
            "diversity_levenshtein": [v + SHIFT[seed] for v in curve],
            "correct": [0.5, 0.5, 0.5],
            "unique_ratio": [1.0, 1.0, 1.0],
            "invalid": [0.5, 0.5, 0.5],
        }
    return make_rows(data, directions=directions)


def three_scenarios() -> list[MetricRow]:
    """two_scenarios plus "mixed": replace's curves with diversity shifted by MIXED_SHIFT."""
    data = {"mixed": {}}
    for seed, curve in REPLACE.items():
        data["mixed"][seed] = _replace_seed([v + MIXED_SHIFT[seed] for v in curve])
    return two_scenarios() + make_rows(data)


# -- synthetic rows and inputs of a report (the report, results-JSON and report-check tests) -------------------


def synthetic_rows(generations: int = 4) -> list[MetricRow]:
    """2 scenarios x 2 seeds: diversity declines (faster for "replace"), correctness rises."""
    rows = []
    for scenario, rate in (("replace", 0.2), ("accumulate", 0.05)):
        for seed in (0, 1):
            for g in range(generations):
                diversity = 0.6 - rate * g + 0.01 * seed
                correct = min(1.0, 0.7 + 0.05 * g)
                invalid = 0.1 * (1 - g / generations)
                values = {
                    "diversity_levenshtein": (diversity, True),
                    "correct": (correct, True),
                    "incorrect": (1 - correct - invalid, False),
                    "invalid": (invalid, False),
                    "unique_ratio": (diversity + 0.2, True),
                    "unique_count": (1000 * diversity, True),
                }
                for metric, (value, higher) in values.items():
                    rows.append(MetricRow("run", "demo", scenario, seed, g, metric, value, higher))
    return rows


def report_inputs(rows: list[MetricRow], label_of=lambda text: "correct") -> ReportInputs:
    """Sample panels like the store's, made of hostile strings, and one mitigation's drop counts."""
    from bench.report.inputs import Drop, ReportInputs, SamplePanel, pick_samples

    panels = []
    for scenario in ("replace", "accumulate"):
        for generation in (0, 2, 3):
            texts = ["<script>alert(1)</script>"] * 3 + ["a & b", ""] * 2 + [f"s{i}" for i in range(20)]
            labels = [label_of(t) for t in texts]
            frequent, drawn = pick_samples(texts, labels, seed=generation)
            panels.append(SamplePanel(scenario, 0, generation, len(texts), len(set(texts)), frequent, drawn))
    drops = [Drop("replace", seed, g, "verifier_filter:incorrect", 5 + g) for seed in (0, 1) for g in range(4)]
    return ReportInputs(samples=panels, drops=drops)


REPORT_RUN = RunRow(
    run_id="demo-0123456789ab",
    suite="demo",
    config="{}",
    git_commit="0123456789abcdef0123",
    device="cpu: x86_64, 1 threads",
    started_at=datetime(2026, 1, 2, 3, 4),
    finished_at=datetime(2026, 1, 2, 5, 6),
    status="finished",
    packages='{"torch": "2.13.0"}',
)


def composition_rows() -> list[MetricRow]:
    rows = synthetic_rows()
    for scenario in ("replace", "accumulate"):
        for seed in (0, 1):
            for g in range(4):
                real = 1.0 if g == 0 else (0.0 if scenario == "replace" else 1 / (g + 1))
                for metric, value in (("data_real_share", real), ("data_synthetic_share", 1 - real)):
                    rows.append(MetricRow("run", "demo", scenario, seed, g, metric, value, None))
                rows.append(MetricRow("run", "demo", scenario, seed, g, "val_loss", 1.0 + 0.1 * g + seed, False))
    return rows


# -- a plugin distribution: a mitigation and a metric found through entry points (the plugin and fault tests) ---

LENGTH_CAP = '''
from typing import Literal

from pydantic import Field

from bench.mitigations.base import MITIGATIONS, Mitigation, MitigationContext, Selection


@MITIGATIONS.register("length_cap")
class LengthCap(Mitigation):
    """Drop samples longer than ``max_tokens`` tokens (reason ``too_long``)."""

    name: Literal["length_cap"] = "length_cap"
    max_tokens: int = Field(ge=1, description="Longest sample kept, in tokens.")

    def select(self, samples: list[str], context: MitigationContext) -> Selection:
        kept = [s for s in samples if len(s.split()) <= self.max_tokens]
        n = len(samples) - len(kept)
        return Selection(kept=kept, dropped={"too_long": n} if n else {})
'''

SHORT_SHARE = """
from bench.metrics import metric


@metric("short_share", True, "share of samples of at most three tokens")
def short_share(s):
    return sum(len(t.split()) <= 3 for t in s.samples) / len(s.samples) if s.samples else 0.0
"""


def make_plugin(root: Path) -> Path:
    package = root / "cb_plugin"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "length_cap.py").write_text(LENGTH_CAP)
    (package / "short_share.py").write_text(SHORT_SHARE)
    info = root / "cb_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: cb-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        textwrap.dedent(
            """
            [collapse_bench.mitigations]
            length_cap = cb_plugin.length_cap

            [collapse_bench.metrics]
            short_share = cb_plugin.short_share
            """
        )
    )
    return root
