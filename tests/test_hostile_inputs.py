"""Inputs that used to crash, hang, or pass while doing the wrong thing: merges of odd sources, damaged samples in a
report, hostile text-world folders, non-finite baselines, temperatures and models that validate but cannot run, score
inputs with very long lines, the estimate's probe, and an interrupted report.

Every refusal is exit 2 with one line and no traceback, and leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from conftest import EMPIRICAL_ONE_CELL, ROOT, cli, write_suite
from conftest import bench_process as bench

from bench.store.database import Store


def refused(done: subprocess.CompletedProcess, *needles: str) -> str:
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def copy_results(results: Path, to: Path) -> Path:
    shutil.copytree(results, to, symlinks=True)
    return to


# -- 6. merge ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("alter", "needle"),
    [
        ("ALTER TABLE metrics ADD COLUMN extra INTEGER", "'extra'"),
        ("ALTER TABLE metrics ALTER value TYPE VARCHAR; UPDATE metrics SET value = 'abc'", "metrics.value"),
        ("ALTER TABLE drops DROP COLUMN count", "'count'"),
    ],
    ids=["extra-column", "non-numeric-value", "missing-column"],
)
def test_a_source_with_other_columns_is_refused_before_the_target_exists(
    tmp_path, empirical_results, capsys, alter, needle
):
    source = copy_results(empirical_results, tmp_path / "source")
    with duckdb.connect(str(source / "bench.duckdb")) as con:
        con.execute(alter)
    target = tmp_path / "target"
    refused(cli(capsys, "merge", str(source), "--into", str(target)), "bench.duckdb", needle)
    assert not target.exists()


def test_a_failing_merge_into_an_existing_target_changes_nothing(tmp_path, empirical_results, capsys):
    target = copy_results(empirical_results, tmp_path / "target")
    before = Store(target).count_rows()
    other = tmp_path / "other"
    suite = write_suite(tmp_path / "o.yaml", {**EMPIRICAL_ONE_CELL, "suite": "other"})
    assert bench("run", str(suite), "--results", str(other), "--quiet", "--allow-cpu").returncode == 0
    run_id = Store(other).runs()[0].run_id
    blocked = target / "artifacts" / run_id / "replace" / "seed-0" / "gen-000" / "data.parquet"
    blocked.mkdir(parents=True)  # a folder where the merge must put a file
    refused(cli(capsys, "merge", str(other), "--into", str(target)), "data.parquet", "not a regular file")
    assert Store(target).count_rows() == before


# -- 7. report with damaged samples -----------------------------------------------------------------------------


def test_a_truncated_samples_file_shows_as_unavailable(tmp_path, empirical_results, capsys):
    results = copy_results(empirical_results, tmp_path / "results")
    damaged = next((results / "artifacts").rglob("samples.parquet"))
    damaged.write_bytes(damaged.read_bytes()[:100])
    done = cli(capsys, "report", "--results", str(results), "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert "samples.parquet" in page


# -- 8. the text world ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    from bench.run.pretrain import PretrainSettings, pretrain
    from bench.tasks.text import read_documents

    folder = tmp_path_factory.mktemp("model")
    corpus = folder / "slice.txt"
    corpus.write_text("\n\n".join(read_documents(ROOT / "corpora" / "stdlib_docstrings.txt")[:150]) + "\n")
    pretrain(corpus, folder / "tiny", PretrainSettings(vocab_size=400, steps=2, batch_size=2))
    return folder / "tiny"


def text_suite(tmp_path: Path, model: Path, corpus: Path, **sampling) -> Path:
    suite = {
        "suite": "t",
        "seeds": [0],
        "generations": 1,
        "task": {"name": "text", "params": {"corpus": str(corpus), "tokenizer": str(model), "chunk_tokens": 16}},
        "data": {"size": 10, "test_size": 4},
        "model": {"kind": "transformer", "pretrained": str(model), "init": "pretrained"},
        "training": {"max_iters": 1, "batch_size": 2, "block_size": 24, "warmup_iters": 0, "eval_interval": 1},
        "metrics": {"mauve": False},  # 10 samples: too few for MAUVE's k-means
        "sampling": dict(sampling),
        "scenarios": [{"name": "replace", "regime": {"kind": "replace"}}],
    }
    return write_suite(tmp_path / "t.yaml", suite)


def test_a_symlink_loop_corpus_is_one_line(tmp_path, tiny_model, capsys):
    corpus = tmp_path / "loop.txt"
    corpus.symlink_to(corpus)
    refused(cli(capsys, "validate", str(text_suite(tmp_path, tiny_model, corpus))), "loop.txt")


def test_a_deeply_nested_jsonl_line_is_one_line(tmp_path, tiny_model, capsys):
    corpus = tmp_path / "deep.jsonl"
    corpus.write_text('{"text": "a"}\n' + "[" * 100_000 + "]" * 100_000 + "\n")
    refused(cli(capsys, "validate", str(text_suite(tmp_path, tiny_model, corpus))), "deep.jsonl", "line 2")


@pytest.mark.parametrize("name", ["tokenizer.json", "config.json", "tokenizer_config.json"])
def test_a_malformed_model_file_is_one_line(tmp_path, tiny_model, capsys, name):
    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    (model / name).write_text('{"model": {"type": "BPE", "vocab": [1, 2')
    corpus = ROOT / "corpora" / "stdlib_docstrings.txt"
    refused(cli(capsys, "validate", str(text_suite(tmp_path, model, corpus))), str(model))


def test_a_document_too_long_to_tokenize_at_once_is_refused(tmp_path, monkeypatch):
    from bench.tasks import text

    monkeypatch.setattr(text, "MAX_DOCUMENT_CHARS", 1000)
    corpus = tmp_path / "c.txt"
    corpus.write_text("short one\n\n" + "word " * 300 + "\n")
    with pytest.raises(text.CorpusError, match="document 2 has 1,499 characters"):
        text.read_documents(corpus)


def test_batched_tokenization_cuts_the_same_chunks(tiny_model, monkeypatch):
    from bench.tasks import text

    documents = text.read_documents(ROOT / "corpora" / "stdlib_docstrings.txt")[:200]
    tokenizer = text.load_tokenizer(tiny_model)
    whole = text.chunk(documents, tokenizer, 16)
    monkeypatch.setattr(text, "TOKENIZE_BATCH_CHARS", 500)  # many small batches
    assert text.chunk(documents, tokenizer, 16) == whole and len(whole) > 100


# -- 9. baselines -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["1e400", "-1e400", "1" + "0" * 400])
def test_a_non_finite_baseline_value_is_refused(tmp_path, empirical_results, capsys, value):
    path = tmp_path / "base.json"
    assert cli(capsys, "check", "--results", str(empirical_results), "--write-baseline", str(path)).returncode == 0
    text = path.read_text()
    data = json.loads(text)
    field = next(k for k, v in data["rows"][0].items() if k.endswith("_final") and v is not None)
    path.write_text(text.replace(f'"{field}": {json.dumps(data["rows"][0][field])}', f'"{field}": {value}', 1))
    done = cli(capsys, "check", "--results", str(empirical_results), "--against", str(path))
    refused(done, "base.json", f"rows[0].{field}: must be finite")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda data: data.update(suite=3), "suite: must be a string, got 3"),
        (lambda data: data.pop("rows"), "rows: required key missing"),
        (lambda data: data["rows"][0].pop("scenario"), "rows[0].scenario: required key missing"),
        (lambda data: data.update(gate={}), "unknown key 'gate'"),
        (lambda data: data["tolerances"]["correct"].update(slack=1), "unknown key 'tolerances.correct.slack'"),
        (lambda data: data["tolerances"]["correct"].update(absolute="0.1"), "tolerances.correct.absolute: must be"),
        (lambda data: data["rows"][0].update(correct_final=[0.5]), "rows[0].correct_final: must be a string"),
    ],
    ids=["wrong-type", "missing-key", "missing-row-key", "unknown-key", "unknown-tolerance-key", "string", "list"],
)
def test_a_bad_baseline_is_one_line_naming_the_file_and_field(tmp_path, empirical_results, capsys, change, field):
    path = tmp_path / "base.json"
    assert cli(capsys, "check", "--results", str(empirical_results), "--write-baseline", str(path)).returncode == 0
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))
    refused(cli(capsys, "check", "--results", str(empirical_results), "--against", str(path)), "base.json", field)


# -- 10. settings that validate but cannot run ------------------------------------------------------------------


def test_a_vanishing_temperature_is_refused(tmp_path, capsys):
    suite = write_suite(tmp_path / "s.yaml", {**EMPIRICAL_ONE_CELL, "sampling": {"temperature": 1.0e-300}})
    refused(cli(capsys, "validate", str(suite)), "sampling.temperature")


def test_the_lowest_temperature_runs_on_the_empirical_learner(tmp_path, capsys):
    """count ** (1 / 0.001) overflows float64 for any count above 2; the weights are then taken in log space."""
    suite = write_suite(tmp_path / "s.yaml", {**EMPIRICAL_ONE_CELL, "sampling": {"temperature": 0.001}})
    done = bench("run", str(suite), "--results", str(tmp_path / "r"), "--quiet", "--allow-cpu")
    assert done.returncode == 0, done.stderr


def test_a_model_larger_than_the_machine_is_refused(tmp_path, capsys):
    suite = {
        **EMPIRICAL_ONE_CELL,
        "model": {"kind": "transformer", "preset": "tiny", "overrides": {"n_embd": 65536, "n_head": 2, "n_layer": 64}},
        "training": {"block_size": 64},
    }
    refused(cli(capsys, "validate", str(write_suite(tmp_path / "s.yaml", suite))), "parameters", "GB")


def _safetensors(header: dict | bytes, data: bytes = b"") -> bytes:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


@pytest.mark.parametrize(
    ("weights", "needle"),
    [
        (_safetensors(b"{not json"), "not valid JSON"),
        (struct.pack("<Q", 10**15) + b"{}", "claims"),
        (_safetensors({"w": {"dtype": "F32", "shape": [10**12], "data_offsets": [0, 4 * 10**12]}}, b"\0" * 8), "lie"),
        (_safetensors({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, b"\0" * 8), "do not hold"),
        (_safetensors({"w": {"dtype": "X99", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 8), "dtype"),
    ],
    ids=["not-json", "header-length", "huge-tensor", "shape-mismatch", "dtype"],
)
def test_a_malformed_safetensors_header_is_refused(tmp_path, tiny_model, capsys, weights, needle):
    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    (model / "model.safetensors").write_bytes(weights)
    corpus = ROOT / "corpora" / "stdlib_docstrings.txt"
    refused(cli(capsys, "validate", str(text_suite(tmp_path, model, corpus))), "model.safetensors", needle)


# -- 11. bounded work -------------------------------------------------------------------------------------------


def test_score_refuses_long_lines_quickly(tmp_path):
    path = tmp_path / "long.txt"
    with path.open("w") as handle:
        for i in range(20):
            handle.write(" ".join(f"t{(i * 7 + j) % 997}" for j in range(150_000)) + "\n")
    started = time.perf_counter()
    done = bench("score", "--task", "logic", str(path), timeout=120)
    refused(done, "long.txt", "diversity_levenshtein")
    assert time.perf_counter() - started < 60
    pairs = bench("score", "--task", "logic", str(path), "--sample-pairs", "1000", timeout=120)
    refused(pairs, "smaller --sample-pairs")


def test_the_estimate_probe_generates_a_bounded_data_set(tmp_path, monkeypatch):
    from bench.run import estimate
    from bench.suite.config import load_suite

    suite = load_suite(write_suite(tmp_path / "s.yaml", {**EMPIRICAL_ONE_CELL, "data": {"size": 10_000_000}}))
    sizes = []
    from bench.tasks.logic import LogicTask

    original = LogicTask.generate

    def counting(self, n, seed, exclude=frozenset()):
        sizes.append(n)
        return original(self, n, seed, exclude)

    monkeypatch.setattr(LogicTask, "generate", counting)
    result = estimate.estimate(suite)
    assert max(sizes) <= estimate.PROBE_DATA and result.samples == 2 * 10_000_000


# -- 12. interrupted report -------------------------------------------------------------------------------------


def test_an_interrupted_report_does_not_block_the_next(tmp_path, empirical_results, capsys):
    from bench.report.outdir import OutputDir

    out = tmp_path / "out"
    interrupted = OutputDir(out)
    interrupted.write_text("index.html", "<p>half</p>")  # then the process dies: no close(), no final manifest
    (out / ".tmp-abc123.part").write_text("half a figure")
    done = cli(capsys, "report", "--results", str(empirical_results), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert not (out / ".tmp-abc123.part").exists()


# -- found by the adversarial round -----------------------------------------------------------------------------


def test_a_truncated_database_is_one_line_for_readers(tmp_path, empirical_results, capsys):
    results = copy_results(empirical_results, tmp_path / "results")
    data = (results / "bench.duckdb").read_bytes()
    (results / "bench.duckdb").write_bytes(data[: len(data) // 3])
    refused(cli(capsys, "runs", "--results", str(results)), "bench.duckdb")


def test_a_deeply_nested_baseline_is_one_line(tmp_path, empirical_results, capsys):
    path = tmp_path / "b.json"
    path.write_text("[" * 200_000 + "]" * 200_000)
    refused(cli(capsys, "check", "--results", str(empirical_results), "--against", str(path)), "nested too deeply")


def test_pretrain_refuses_an_output_link(tmp_path, capsys):
    target = tmp_path / "empty"
    target.mkdir()
    link = tmp_path / "link"
    link.symlink_to(target)
    corpus = ROOT / "corpora" / "stdlib_docstrings.txt"
    refused(cli(capsys, "pretrain", "--corpus", str(corpus), "--out", str(link)), "symbolic link")
    assert not any(target.iterdir())


@pytest.mark.parametrize(("key", "value"), [("vocab_size", -5), ("n_layer", 0), ("n_embd", "64")])
def test_a_model_config_with_an_impossible_size_is_refused(tmp_path, tiny_model, capsys, key, value):
    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    config = json.loads((model / "config.json").read_text())
    config[key] = value
    (model / "config.json").write_text(json.dumps(config))
    corpus = ROOT / "corpora" / "stdlib_docstrings.txt"
    refused(cli(capsys, "validate", str(text_suite(tmp_path, model, corpus))), "config.json", key)


def test_a_leftover_link_is_unlinked_and_its_target_kept(tmp_path, empirical_results, capsys):
    results = copy_results(empirical_results, tmp_path / "results")
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    leftover = next((results / "artifacts").rglob("gen-000")) / "x.tmp"
    leftover.symlink_to(victim)
    assert cli(capsys, "fsck", "--results", str(results), "--repair").returncode == 0
    assert not os.path.lexists(leftover) and victim.read_text() == "keep"


def test_mauve_leaves_stderr_empty():
    """faiss prints "WARNING clustering ..." with C fprintf on small sets; the run's stderr must stay clean."""
    code = (
        "import numpy as np; from bench.text.metrics import mauve_scores; r = np.random.default_rng(0); "
        "print(mauve_scores(r.normal(size=(60, 8)).astype('float32'), r.normal(size=(60, 8)).astype('float32'), 0)"
        "['mauve'])"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0 and 0.0 <= float(done.stdout) <= 1.0 and done.stderr == "", done.stderr


def test_weights_that_do_not_fit_the_config_fail_the_cell(tmp_path, tiny_model):
    """A GPT-2 folder relabelled ``bert`` validates (bert has a causal-LM head in transformers), but its tensors do
    not fit: transformers would only log that and train from random layers; the load refuses instead."""
    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    config = json.loads((model / "config.json").read_text())
    config["model_type"] = "bert"
    (model / "config.json").write_text(json.dumps(config))
    suite = text_suite(tmp_path, model, ROOT / "corpora" / "stdlib_docstrings.txt")
    done = bench("run", str(suite), "--results", str(tmp_path / "r"), "--quiet", "--allow-cpu")
    assert done.returncode == 1 and "do not fit config.json" in done.stderr and "Traceback" not in done.stderr
