"""Hostile input: every bad suite, file or option gives exit 2 and one line, quickly, in bounded memory, and writes
nothing (issue 16, items 1, 2, 5, 9 and 10).

Each case runs ``bench`` in a subprocess whose resource use is read from ``os.wait4``: CPU seconds (robust to other
load on a shared machine; a wall-clock guard catches hangs) and peak resident memory.
"""

from __future__ import annotations

import io
import json
import math
import os
import select
import signal
import subprocess
import sys
import time
import traceback
from collections import Counter
from itertools import combinations
from pathlib import Path

import pytest
import yaml
from conftest import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.analysis.scoring import MAX_EXACT_DISTINCT, diversity_estimate
from bench.lines import LineError, iter_lines, split_lines
from bench.metrics import diversity_levenshtein, tokens_as_chars
from bench.suite.reader import MAX_DEPTH, SuiteFileError, parse_suite_yaml, read_suite_text

ROOT = Path(__file__).resolve().parent.parent

CPU_S, RSS_MB = 5.0, 300
# Cases that build a transformers config import torch on first use (the harness itself does not): about 3 s of CPU
# and 180 MB before any check, so the parent imports it once (``library`` fixture) and they get the same budget.
WALL_GUARD_S = 120  # a hang, not slowness: the machine running the tests may be shared

SUITE = {
    "suite": "hostile",
    "seeds": [0],
    "generations": 2,
    "task": {"name": "logic", "params": {"max_depth": 3}},
    "data": {"size": 100},
    "model": {"preset": "tiny"},
    "training": {"max_iters": 4, "batch_size": 2, "block_size": 64, "warmup_iters": 1, "eval_interval": 2},
    "scenarios": [{"name": "replace", "regime": {"kind": "replace"}}],
}


def run_bench(*args: str, cwd: Path, stdin: bytes | None = None) -> tuple[int, str, float, float]:
    """Exit code, stderr, CPU seconds and added peak RSS (MB) of ``bench ARGS`` in a forked child of this process.

    The child starts with the harness already imported, so the figures are the cost of handling the input (the
    interpreter's start and the imports are measured once, cold, by ``test_cold_start_budget``). ``os.wait4``
    gives the child's own CPU time and peak resident memory; a wall-clock guard catches hangs.
    """
    out_path, err_path = cwd / ".stdout", cwd / ".stderr"
    in_path = cwd / ".stdin"
    in_path.write_bytes(stdin or b"")
    # A forked child starts with this process's resident pages; the figure is what handling the input adds.
    inherited_mb = int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    pid = os.fork()
    if pid == 0:  # the child: fresh standard streams on files, then the command line, then exit without cleanup
        code = 99
        try:
            os.chdir(cwd)
            for fd, path, flags in ((0, in_path, os.O_RDONLY), (1, out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)):
                os.dup2(os.open(path, flags, 0o644), fd)
            os.dup2(os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), 2)
            sys.stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, closefd=False)))
            sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), write_through=True)
            sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), write_through=True)
            from bench.cli.main import main

            code = main(list(args))
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    deadline = time.monotonic() + WALL_GUARD_S
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.wait4(pid, 0)
            pytest.fail(f"bench {' '.join(args)} still running after {WALL_GUARD_S} s")
        time.sleep(0.01)
    stderr = err_path.read_text(encoding="utf-8", errors="replace")
    for path in (out_path, err_path, in_path):
        path.unlink()
    rss_mb = usage.ru_maxrss / 1024 - inherited_mb
    return os.waitstatus_to_exitcode(status), stderr, usage.ru_utime + usage.ru_stime, rss_mb


def assert_refused(
    result: tuple[int, str, float, float], *needles: str, cpu_s: float = CPU_S, rss_mb: float = RSS_MB
) -> None:
    code, stderr, cpu, rss = result
    assert code == 2, stderr
    assert "Traceback" not in stderr
    lines = [line for line in stderr.split("\n") if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("bench: error: "), stderr
    for needle in needles:
        assert needle in stderr, stderr
    assert cpu <= cpu_s, f"{cpu:.1f} s of CPU: {stderr}"
    assert rss <= rss_mb, f"{rss:.0f} MB peak: {stderr}"


def refuse_suite(tmp_path: Path, text: str | bytes, *needles: str) -> None:
    """``bench run`` on the suite refuses it and creates no results directory."""
    path = tmp_path / "suite.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    result = run_bench("run", str(path), "--results", str(tmp_path / "results"), "--quiet", cwd=tmp_path)
    assert_refused(result, *needles)
    assert not (tmp_path / "results").exists()


@pytest.fixture(scope="module")
def library() -> None:
    """transformers' config classes (and torch) imported once, before the children that need them fork."""
    import transformers.activations  # noqa: F401

    import bench.learners.transformer.config  # noqa: F401


# Runs the command and prints its exit code and resource use. A small interpreter between pytest and bench matters:
# Linux folds the forking process's peak RSS into the child's at exec, so a child forked from a pytest that has
# loaded torch would report pytest's peak, not its own.
_LAUNCHER = """
import json, os, subprocess, sys
proc = subprocess.run(sys.argv[1:], stderr=subprocess.PIPE)
usage = __import__("resource").getrusage(__import__("resource").RUSAGE_CHILDREN)
print(json.dumps([proc.returncode, proc.stderr.decode(), usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024]))
"""


def test_cold_start_budget(tmp_path):
    """One bad suite end to end in a fresh interpreter: start, imports and refusal within the budget."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    path = tmp_path / "suite.yaml"
    path.write_text(suite_with(generations=True))
    start = time.monotonic()
    launched = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, sys.executable, "-m", "bench", "validate", str(path)],
        capture_output=True,
        env=env,
        cwd=tmp_path,
        timeout=WALL_GUARD_S,
    )
    assert time.monotonic() - start < WALL_GUARD_S
    code, stderr, cpu, rss = json.loads(launched.stdout)
    assert_refused((code, stderr, cpu, rss), "generations")


def suite_with(**changes) -> str:
    data = json.loads(json.dumps(SUITE))
    for dotted, value in changes.items():
        node = data
        *parents, last = dotted.split("__")
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
        node[last] = value
    return yaml.safe_dump(data, sort_keys=False)


# -- item 1: validation cannot be made to hang or eat memory ---------------------------------------------------


def test_alias_bomb_is_refused(tmp_path):
    lines = ["suite: bomb", "seeds: [0]", "generations: 1", "model:", "  overrides:", "    x0: &x0 [1, 2, 3, 4, 5]"]
    for i in range(1, 10):
        lines.append(f"    x{i}: &x{i} [" + ", ".join([f"*x{i - 1}"] * 9) + "]")
    lines.append("scenarios: [{name: a, regime: {kind: replace}}]")
    refuse_suite(tmp_path, "\n".join(lines) + "\n", "anchors (&x0) are not allowed", "line 6")


def test_a_lone_alias_is_refused(tmp_path):
    refuse_suite(tmp_path, suite_with() + "extra: *nothing\n", "aliases (*nothing)")
    text = suite_with().replace("suite: hostile", "suite: &name hostile") + "description: *name\n"
    refuse_suite(tmp_path, text, "anchors (&name)")


@pytest.mark.parametrize("style", ["flow", "block"])
def test_ten_thousand_deep_nesting_is_one_line(tmp_path, style):
    if style == "flow":
        nested = "[" * 10_000 + "]" * 10_000
    else:
        nested = "\n" + "".join(" " * i + f"k{i}:\n" for i in range(1, 1_000)) + " " * 1_000 + "v"
    refuse_suite(tmp_path, f"suite: deep\nseeds: [0]\ngenerations: 1\nscenarios: {nested}\n", "nested more than")


def test_fifo_does_not_block(tmp_path):
    fifo = tmp_path / "suite.yaml"
    os.mkfifo(fifo)
    result = run_bench("run", str(fifo), "--results", str(tmp_path / "results"), cwd=tmp_path)
    assert_refused(result, "is a FIFO")
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize(("path", "needle"), [("/dev/zero", "character device"), (".", "is a directory")])
def test_special_files_are_refused(tmp_path, path, needle):
    result = run_bench("validate", path, cwd=tmp_path)
    assert_refused(result, needle)


def test_large_file_is_refused_by_size(tmp_path):
    keys = "".join(f"k{i}: {i}\n" for i in range(200_000))  # 2.3 MB of keys
    refuse_suite(tmp_path, suite_with() + keys, "at most 1,000,000 bytes")


def test_many_nodes_under_the_size_limit_are_refused(tmp_path):
    overrides = "    k: [" + ", ".join(["0"] * 60_000) + "]\n"
    text = suite_with().replace("  preset: tiny\n", "  preset: tiny\n  overrides:\n" + overrides)
    assert len(text.encode()) < 1_000_000
    refuse_suite(tmp_path, text, "more than 50,000 YAML nodes")


def test_duplicate_keys_are_refused(tmp_path):
    refuse_suite(tmp_path, suite_with() + "generations: 3\n", "duplicate key 'generations'")
    nested = suite_with().replace("  preset: tiny\n", "  preset: tiny\n  preset: paper\n")
    refuse_suite(tmp_path, nested, "duplicate key 'preset'")


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("generations", True, "generations: Input should be a valid integer (got True)"),
        ("data__size", "100", "data.size"),
        ("training__learning_rate", False, "training.learning_rate"),
        ("training__grad_clip", float("inf"), "training.grad_clip"),
        ("sampling__temperature", float("nan"), "sampling.temperature"),
        ("scenarios__0__regime", {"kind": "fixed_real", "fraction": True}, "fraction"),
        ("scenarios__0__mitigations", [{"name": "diversity_select", "keep_count": True}], "keep_count"),
        ("model__context_length", True, "model.context_length"),
    ],
)
def test_types_are_strict(tmp_path, field, value, needle):
    refuse_suite(tmp_path, suite_with(**{field: value}), needle)


def test_non_utf8_and_several_documents_are_refused(tmp_path):
    refuse_suite(tmp_path, suite_with().encode() + b"description: \xff\n", "not UTF-8")
    refuse_suite(tmp_path, suite_with() + "---\nsuite: other\n", "invalid YAML")
    refuse_suite(tmp_path, suite_with() + "x: !!python/object:os.system {}\n", "invalid YAML")


# -- item 2: names are single safe path components ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["..", ".", ".hidden", "a/b", "..\\x", "a\tb", "a\nb", "", "x" * 81])
def test_unsafe_scenario_names_are_refused(tmp_path, name):
    refuse_suite(tmp_path, suite_with(scenarios__0__name=name), "scenarios[0].name")


@pytest.mark.parametrize("name", ["..", ".", "../elsewhere", "a/b"])
def test_unsafe_suite_names_are_refused(tmp_path, name):
    refuse_suite(tmp_path, suite_with(suite=name), "suite:")


# -- item 5: what validates can run ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "needle"),
    [
        ({"preset": "custom", "architecture": "gpt3"}, "model.architecture 'gpt3' is unknown"),
        ({"preset": "custom", "architecture": "vit"}, "model.architecture 'vit' has no causal-LM model"),
        ({"preset": "tiny", "overrides": {"n_layers": 2}}, "no field 'n_layers' (did you mean 'n_layer'?)"),
        ({"preset": "tiny", "overrides": {"n_head": 3}}, "3 attention heads do not divide the hidden size 64"),
        ({"preset": "tiny", "overrides": {"vocab_size": 3}}, "smaller than the task's vocabulary"),
        ({"preset": "tiny", "overrides": {"n_layer": True}}, "model.overrides.n_layer: expected int"),
        ({"preset": "tiny", "overrides": {"n_positions": 16}}, "n_positions (16) is shorter"),
        ({"preset": "tiny", "overrides": {"resid_pdrop": 1.5}}, "dropout probability"),
        ({"preset": "tiny", "overrides": {"activation_function": "gleu"}}, "unknown activation 'gleu'"),
        ({"preset": "tiny", "overrides": {"n_embd": 0}}, "at least 1"),
    ],
)
def test_impossible_models_are_refused(tmp_path, library, model, needle):
    refuse_suite(tmp_path, suite_with(model=model), needle)


def test_max_new_tokens_beyond_the_context_is_refused(tmp_path, library):
    refuse_suite(tmp_path, suite_with(sampling={"max_new_tokens": 100}), "does not fit the context")


def test_a_mitigation_that_must_drop_every_sample_is_refused(tmp_path, library):
    text = suite_with(
        task={"name": "identities"},
        training={"block_size": 128},
        sampling={"max_new_tokens": 2},
        scenarios=[{"name": "filtered", "regime": {"kind": "replace"}, "mitigations": [{"name": "verifier_filter"}]}],
    )
    refuse_suite(tmp_path, text, "verifier_filter would drop every sample")


@pytest.mark.parametrize(("seeds", "needle"), [([0, 2**63], "seeds[1]"), ([-1], "seeds[0]"), ([0, 0], "distinct")])
def test_seeds_outside_63_bits_are_refused(tmp_path, seeds, needle):
    refuse_suite(tmp_path, suite_with(seeds=seeds), needle)


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"max_dept": 3}, "task.params.max_dept: unknown parameter of task 'logic' (did you mean max_depth"),
        ({"max_depth": True}, "task.params.max_depth"),
        ({"max_depth": 3.5}, "task.params.max_depth"),
        ({"p_leaf": "half"}, "task.params.p_leaf"),
        ({"min_depth": 4, "max_depth": 2}, "min_depth"),
    ],
)
def test_task_params_are_checked(tmp_path, params, needle):
    refuse_suite(tmp_path, suite_with(task={"name": "logic", "params": params}), needle)


def test_unknown_task_suggests_the_near_name(tmp_path):
    refuse_suite(tmp_path, suite_with(task={"name": "logik"}), "unknown task 'logik' (did you mean 'logic'?)")


# -- unknown keys suggest the near match --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"training__max_iter": 3}, "training.max_iter: unknown key (did you mean max_iters"),
        ({"scenarios__0__regime": {"kind": "fixed_real", "fractio": 0.5}}, "regime.fractio: unknown key (did you"),
        ({"scenarios__0__training": {"batchsize": 3}}, "training.batchsize: unknown key (did you mean batch_size"),
        ({"sampling__temprature": 1.0}, "did you mean temperature"),
        ({"seed": [0]}, "seed: unknown key (did you mean seeds"),
    ],
)
def test_unknown_keys_suggest_the_near_match(tmp_path, changes, needle):
    refuse_suite(tmp_path, suite_with(**changes), needle)


# -- item 10: tracebacks become one line ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def finished_results(tmp_path_factory) -> Path:
    """A finished run of the empirical learner (milliseconds of work), for the commands that read results."""
    root = tmp_path_factory.mktemp("results")
    suite = root / "tiny.yaml"
    data = {
        "suite": "tiny",
        "seeds": [0],
        "generations": 2,
        "task": {"name": "logic", "params": {"max_depth": 2}},
        "data": {"size": 20},
        "model": {"kind": "empirical"},
        "training": {"block_size": 64},
        "sampling": {"temperature": 1.0},
        "scenarios": [{"name": "replace", "regime": {"kind": "replace"}}],
    }
    suite.write_text(yaml.safe_dump(data), encoding="utf-8")
    code, stderr, _, _ = run_bench("run", str(suite), "--results", str(root / "results"), "--quiet", cwd=root)
    assert code == 0, stderr
    return root / "results"


@pytest.fixture()
def bad_directories(tmp_path) -> dict[str, Path]:
    (tmp_path / "file").write_text("x")
    (tmp_path / "dangling").symlink_to(tmp_path / "missing")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    return {
        "lies below a file": tmp_path / "file" / "results",
        "is a dangling symlink": tmp_path / "dangling",
        "is a symlink loop": tmp_path / "loop",
        "lies below a dangling symlink": tmp_path / "dangling" / "below",
    }


@pytest.mark.parametrize(
    "command",
    [
        ["run", str(ROOT / "suites" / "oracle.yaml"), "--quiet", "--results"],
        ["leaderboard", "--results"],
        ["report", "--out", "report", "--results"],
        ["check", "--against", "baseline.json", "--results"],
        ["merge", ".", "--into"],
    ],
    ids=["run", "leaderboard", "report", "check", "merge-into"],
)
def test_bad_results_directories(tmp_path, bad_directories, command):
    for needle, path in bad_directories.items():
        assert_refused(run_bench(*command, str(path), cwd=tmp_path), needle)
    assert not (tmp_path / "report").exists()


def test_bad_merge_sources(tmp_path, bad_directories):
    for needle, path in bad_directories.items():
        assert_refused(run_bench("merge", str(path), "--into", str(tmp_path / "into"), cwd=tmp_path), needle)
    assert not (tmp_path / "into").exists()


def test_write_baseline_to_a_directory(tmp_path, finished_results):
    (tmp_path / "dir").mkdir()
    result = run_bench(
        "check", "--results", str(finished_results), "--write-baseline", str(tmp_path / "dir"), cwd=tmp_path
    )
    assert_refused(result, "is a directory")
    assert list((tmp_path / "dir").iterdir()) == []
    (tmp_path / "file").write_text("x")
    result = run_bench(
        "check", "--results", str(finished_results), "--write-baseline", str(tmp_path / "file" / "b.json"), cwd=tmp_path
    )
    assert_refused(result, "its folder", "exists and is not a directory")


def test_score_refuses_non_utf8_files(tmp_path):
    good, bad = tmp_path / "good.txt", tmp_path / "bad.txt"
    good.write_text("True\nFalse\n")
    bad.write_bytes(b"True\nFal\xffse\n")
    assert_refused(run_bench("score", "--task", "logic", str(good), "--reference", str(bad), cwd=tmp_path), "line 2")
    assert_refused(run_bench("score", "--task", "logic", str(bad), cwd=tmp_path), "bad.txt: line 2 is not UTF-8")
    assert_refused(run_bench("score", "--task", "logic", str(tmp_path), cwd=tmp_path), "no such file")


def test_verify_refuses_non_utf8_input_after_answering_the_lines_before(tmp_path):
    result = run_bench("verify", "--task", "logic", stdin=b"True\n\xff\n", cwd=tmp_path)
    assert_refused(result, "stdin: line 2 is not UTF-8")


# -- item 9: lines end at \n only; verify streams -------------------------------------------------------------------

SEPARATORS = ["\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029", "\v", "\f", "\r"]


def test_verify_prints_one_record_per_line(tmp_path):
    lines = [f"True{sep}and False" for sep in SEPARATORS] + ["not True"]
    payload = ("\n".join(lines[:-1]) + "\r\n" + lines[-1] + "\n").encode()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "bench", "verify", "--task", "logic"], input=payload, capture_output=True, env=env
    )
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.decode().split("\n") if line]
    assert len(records) == len(lines)
    assert records[-1] == {"text": "not True", "label": "incorrect"}


def test_verify_answers_each_line_while_the_pipe_stays_open(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench", "verify", "--task", "logic"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        for text, label in (("True", "correct"), ("True and False", "incorrect")):
            proc.stdin.write(text.encode() + b"\n")
            proc.stdin.flush()
            ready, _, _ = select.select([proc.stdout], [], [], 60)
            assert ready, "no answer while stdin stays open"
            assert json.loads(proc.stdout.readline()) == {"text": text, "label": label}
    finally:
        proc.stdin.close()
        if proc.wait(timeout=60) is None:
            proc.send_signal(signal.SIGTERM)
    assert proc.returncode == 0


@settings(max_examples=examples(200), deadline=None)
@given(
    st.lists(
        st.text(alphabet=st.characters(blacklist_characters="\n", blacklist_categories=("Cs",)), max_size=20),
        max_size=20,
    ),
    st.booleans(),
)
def test_split_lines_is_split_on_newline_only(lines, crlf):
    lines = [line.rstrip("\r") for line in lines]
    text = ("\r\n" if crlf else "\n").join(lines) + ("\n" if lines else "")
    assert split_lines(text) == lines
    assert list(iter_lines(io.BytesIO(text.encode()), "x")) == lines


def test_iter_lines_bounds_a_line():
    with pytest.raises(LineError, match="line 2 is longer than 10 bytes"):
        list(iter_lines(io.BytesIO(b"short\n" + b"x" * 11 + b"\n"), "x", max_bytes=10))
    assert list(iter_lines(io.BytesIO(b"x" * 10 + b"\nlast"), "x", max_bytes=10)) == ["x" * 10, "last"]


def test_no_splitlines_in_the_package():
    offenders = [str(p) for p in (ROOT / "bench").rglob("*.py") if ".splitlines(" in p.read_text(encoding="utf-8")]
    assert offenders == []


# -- the YAML loader -------------------------------------------------------------------------------------------------

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False), st.text(max_size=10)
)
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=30,
)


@settings(max_examples=examples(200), deadline=None)
@given(documents)
def test_loader_reads_what_the_safe_dumper_writes(data):
    assert parse_suite_yaml(yaml.safe_dump(data)) == data


@settings(max_examples=examples(50), deadline=None)
@given(st.integers(1, 3 * MAX_DEPTH))
def test_loader_bounds_depth_exactly(depth):
    text = "[" * depth + "]" * depth
    if depth <= MAX_DEPTH:
        assert parse_suite_yaml(text) is not None
    else:
        with pytest.raises(SuiteFileError, match="nested more than"):
            parse_suite_yaml(text)


def test_loader_refuses_unhashable_and_duplicate_keys():
    with pytest.raises(SuiteFileError, match="plain value"):
        parse_suite_yaml("? [a]\n: 1\n")
    with pytest.raises(SuiteFileError, match="duplicate key 'a'"):
        parse_suite_yaml("{a: 1, a: 2}")
    with pytest.raises(SuiteFileError, match="duplicate key 1"):
        parse_suite_yaml("1: a\n1: b\n")


def test_bounded_read_stops_at_the_limit(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_bytes(b"a" * 101)
    with pytest.raises(SuiteFileError, match="at most 100 bytes"):
        read_suite_text(path, limit=100)
    path.write_bytes(b"a" * 100)
    assert read_suite_text(path, limit=100) == "a" * 100


# -- score: the exact diversity is unchanged; the estimate is honest; the limit holds ---------------------------


def brute_force_diversity(samples: list[str]) -> float:
    encoded = tokens_as_chars(samples)

    def lev(a: str, b: str) -> int:
        row = list(range(len(b) + 1))
        for i, ca in enumerate(a, 1):
            prev, row[0] = row[0], i
            for j, cb in enumerate(b, 1):
                prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
        return row[len(b)]

    pairs = list(combinations(encoded, 2))
    return sum(lev(a, b) / max(len(a), len(b)) if max(len(a), len(b)) else 0.0 for a, b in pairs) / len(pairs)


@settings(max_examples=examples(60), deadline=None)
@given(st.lists(st.sampled_from(["True", "False", "not True", "True and False", "( True or False )", ""]), max_size=25))
def test_exact_diversity_over_distinct_pairs_equals_all_pairs(samples):
    expected = brute_force_diversity(samples) if len(samples) >= 2 else 0.0
    for chunk_rows in (1, 2, 512):
        assert diversity_levenshtein(samples, chunk_rows=chunk_rows) == pytest.approx(expected, abs=1e-12)


def test_estimate_is_within_its_standard_error_and_seeded():
    from bench.tasks import get_task

    samples = get_task("logic", max_depth=4).generate(1500, seed=3)
    samples += samples[:500]
    exact = diversity_levenshtein(samples)
    mean, se = diversity_estimate(samples, 20_000, seed=1)
    assert se > 0 and abs(mean - exact) < 4 * se
    assert diversity_estimate(samples, 20_000, seed=1) == (mean, se)
    assert diversity_estimate(samples, 20_000, seed=2) != (mean, se)


def test_score_refuses_too_many_distinct_lines_unless_pairs_are_sampled(tmp_path):
    path = tmp_path / "many.txt"
    path.write_text("".join(f"True and {'not ' * (i % 7)}False {i}\n" for i in range(MAX_EXACT_DISTINCT + 1)))
    assert_refused(run_bench("score", "--task", "logic", str(path), cwd=tmp_path), "50,001 distinct lines")


def test_score_estimate_reports_its_standard_error(tmp_path, capsys):
    from bench.cli.main import main

    path = tmp_path / "s.txt"
    path.write_text("True\nFalse\nTrue and False\nnot True\nTrue\n" * 20)
    assert main(["score", "--task", "logic", str(path)]) == 0
    exact = json.loads(capsys.readouterr().out)
    assert main(["score", "--task", "logic", str(path), "--sample-pairs", "4000", "--seed", "5"]) == 0
    estimated = json.loads(capsys.readouterr().out)
    assert estimated["diversity_levenshtein_pairs"] == 4000
    se = estimated["diversity_levenshtein_se"]
    assert 0 < se < 0.02 and abs(estimated["diversity_levenshtein"] - exact["diversity_levenshtein"]) < 4 * se
    assert {k: v for k, v in estimated.items() if not k.startswith("diversity_levenshtein")} == {
        k: v for k, v in exact.items() if k != "diversity_levenshtein"
    }
    assert main(["score", "--task", "logic", str(path), "--sample-pairs", "1"]) == 2
    samples = [line for line in path.read_text().split("\n") if line]
    assert exact["n"] == len(samples) and exact["unique_count"] == len(Counter(samples))
    assert math.isclose(exact["diversity_levenshtein"], brute_force_diversity(samples), abs_tol=1e-12)


def reference_ngram_diversity(samples: list[str], num_n: int = 4) -> float:
    """``diversity`` 0.3.1's definition, one string per token (the implementation before the packed ids)."""
    if not samples:
        return 0.0
    tokens = " ".join(samples).split(" ")
    score = 0.0
    for n in range(1, num_n + 1):
        count = len(tokens) - n + 1
        if count > 0:
            score += len(set(zip(*(tokens[i:] for i in range(n)), strict=False))) / count
    return round(score, 3)


@settings(max_examples=examples(300), deadline=None)
@given(st.lists(st.lists(st.sampled_from(["a", "b", "", "True", "é", "\t"]), max_size=6).map(" ".join), max_size=10))
def test_ngram_diversity_with_packed_ids_is_the_same_number(samples):
    from bench.metrics import ngram_diversity

    assert ngram_diversity(samples) == reference_ngram_diversity(samples)


def test_ngram_diversity_with_a_large_vocabulary_falls_back_to_tuples():
    from bench.metrics import ngram_diversity

    samples = [f"t{i} t{i + 1} t{i % 7}" for i in range(40_000)]  # 40,007 ids: 40,007^4 exceeds 63 bits
    assert ngram_diversity(samples) == reference_ngram_diversity(samples)
