"""Nothing outside the results or output directory is touched, a model folder's code never runs, writes never follow
planted links, and a changed input never mixes into a resumed run.

Each test plants what an attacker (or an unlucky set-up) would, runs the real command line, and checks both the
one-line refusal and that the file or folder outside stayed as it was.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import pytest
from conftest import EMPIRICAL_ONE_CELL, ROOT, cli, write_suite
from conftest import bench_process as bench

from bench.store.database import Store


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


# -- 1. report --out and a planted manifest --------------------------------------------------------------------


@pytest.mark.parametrize("name", ["../victim.txt", "ABSOLUTE", "sub/victim.txt", "..", 7])
def test_a_manifest_naming_files_outside_its_folder_is_refused(tmp_path, empirical_results, capsys, name):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    out = tmp_path / "out"
    (out / "sub").mkdir(parents=True)
    (out / "sub" / "victim.txt").write_text("keep me too")
    name = str(victim) if name == "ABSOLUTE" else name
    (out / ".bench-manifest.json").write_text(json.dumps({"version": 1, "files": [name, "sub"]}))
    done = cli(capsys, "report", "--results", str(empirical_results), "--out", str(out), "--force")
    assert done.returncode == 2
    assert ".bench-manifest.json" in one_line(done.stderr) and "not a plain file name" in done.stderr
    assert victim.read_text() == "keep me" and (out / "sub" / "victim.txt").read_text() == "keep me too"
    assert sorted(p.name for p in out.iterdir()) == [".bench-manifest.json", "sub"]  # nothing written


def test_a_plain_manifest_still_removes_stale_figures(tmp_path, empirical_results, capsys):
    out = tmp_path / "out"
    assert cli(capsys, "report", "--results", str(empirical_results), "--out", str(out)).returncode == 0
    manifest = json.loads((out / ".bench-manifest.json").read_text())
    (out / "old.png").write_text("stale")
    manifest["files"].append("old.png")
    (out / ".bench-manifest.json").write_text(json.dumps(manifest))
    assert cli(capsys, "report", "--results", str(empirical_results), "--out", str(out)).returncode == 0
    assert not (out / "old.png").exists()


# -- 2. fsck --repair and a symlinked artifacts/ ---------------------------------------------------------------


def test_fsck_repair_never_deletes_through_a_linked_artifacts_folder(tmp_path, empirical_results, capsys):
    results = tmp_path / "results"
    results.mkdir()
    for name in ("bench.duckdb",):
        (results / name).write_bytes((empirical_results / name).read_bytes())
    bigger_disk = tmp_path / "bigdisk"
    import shutil

    shutil.copytree(empirical_results / "artifacts", bigger_disk)
    (bigger_disk / "other-project").mkdir()
    (bigger_disk / "other-project" / "data.bin").write_text("not bench's")
    run_id = Store(results).runs()[0].run_id
    stray = bigger_disk / run_id / "replace" / "seed-0" / "gen-007"  # a generation folder no row records
    stray.mkdir()
    (results / "artifacts").symlink_to(bigger_disk)

    found = cli(capsys, "fsck", "--results", str(results))
    assert found.returncode == 1 and "other-project" in found.stdout and "gen-007" in found.stdout
    repaired = cli(capsys, "fsck", "--results", str(results), "--repair")
    assert repaired.returncode == 1 and "kept 2 item(s)" in repaired.stdout
    assert (bigger_disk / "other-project" / "data.bin").read_text() == "not bench's"
    assert stray.is_dir()  # resolved outside the results directory: listed, not deleted


def test_fsck_repair_deletes_an_orphan_generation_inside_the_results_directory(tmp_path, empirical_results, capsys):
    import shutil

    results = tmp_path / "results"
    shutil.copytree(empirical_results, results, symlinks=True)
    run_id = Store(results).runs()[0].run_id
    stray = results / "artifacts" / run_id / "replace" / "seed-0" / "gen-007"
    stray.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious").write_text("x")
    (stray / "link").symlink_to(outside)  # deleting the folder removes the link, never what it points to
    (results / "artifacts" / "foreign").mkdir()
    repaired = cli(capsys, "fsck", "--results", str(results), "--repair")
    assert repaired.returncode == 1 and "kept 1 item(s)" in repaired.stdout
    assert not stray.exists() and (outside / "precious").read_text() == "x"
    assert (results / "artifacts" / "foreign").is_dir()


# -- 3. a model folder's code never runs -----------------------------------------------------------------------


def _model_folder(path: Path, config: dict, weights: bytes | None = None) -> Path:
    path.mkdir()
    (path / "config.json").write_text(json.dumps(config))
    (path / "tokenizer.json").write_text("{}")
    if weights is None:
        header = json.dumps({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
        weights = struct.pack("<Q", len(header)) + header + b"\0" * 8
    (path / "model.safetensors").write_bytes(weights)
    return path


def _pretrained_suite(tmp_path: Path, folder: Path) -> Path:
    suite = {**EMPIRICAL_ONE_CELL, "model": {"kind": "transformer", "pretrained": str(folder), "init": "pretrained"}}
    return write_suite(tmp_path / "pre.yaml", suite)


@pytest.mark.parametrize(
    ("config", "needle"),
    [
        ({"model_type": "gpt2", "auto_map": {"AutoModelForCausalLM": "evil.Model"}}, "auto_map"),
        ({"model_type": "evil_custom"}, "model_type 'evil_custom'"),
        ({"architectures": ["X"]}, "model_type None"),
    ],
)
def test_a_model_folder_naming_code_is_refused_and_nothing_runs(tmp_path, capsys, config, needle):
    folder = _model_folder(tmp_path / "model", config)
    marker = tmp_path / "ran"
    (folder / "evil.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    done = cli(capsys, "validate", str(_pretrained_suite(tmp_path, folder)))
    assert done.returncode == 2 and needle in one_line(done.stderr)
    assert not marker.exists()


def test_every_transformers_load_passes_trust_remote_code_false():
    """A grep over the package: each from_pretrained / from_config / AutoTokenizer call names trust_remote_code."""
    import re

    calls = 0
    for path in (ROOT / "bench").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"(Auto\w+)\.(from_pretrained|from_config)\(", text):
            calls += 1
            depth, end = 1, match.end()
            while depth:
                depth += {"(": 1, ")": -1}.get(text[end], 0)
                end += 1
            assert "trust_remote_code=False" in text[match.end() : end], f"{path.name}: {match.group(0)}"
    assert calls >= 4


# -- 4. writes never follow planted links ----------------------------------------------------------------------


def test_a_linked_run_log_is_refused_and_its_target_untouched(tmp_path):
    suite = write_suite(tmp_path / "sec.yaml", EMPIRICAL_ONE_CELL)
    results = tmp_path / "results"
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    valid = bench("validate", str(suite))
    run_id = valid.stdout.split("run id ")[1].split()[0]
    (results / "logs").mkdir(parents=True)
    (results / "logs" / f"{run_id}.log").symlink_to(victim)
    done = bench("run", str(suite), "--results", str(results), "--quiet", "--allow-cpu")
    assert done.returncode == 2 and "symbolic link" in one_line(done.stderr) and f"{run_id}.log" in done.stderr
    assert victim.read_text() == "keep"


@pytest.mark.parametrize("planted", ["link", "dir"])
def test_a_lock_file_that_is_a_link_or_folder_is_one_line(tmp_path, planted):
    suite = write_suite(tmp_path / "sec.yaml", EMPIRICAL_ONE_CELL)
    results = tmp_path / "results"
    results.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    lock = results / "bench.duckdb.lock"
    lock.symlink_to(victim) if planted == "link" else lock.mkdir()
    done = bench("run", str(suite), "--results", str(results), "--quiet", "--allow-cpu")
    assert done.returncode == 2 and "bench.duckdb.lock" in one_line(done.stderr)
    assert victim.read_text() == "keep"  # filelock's O_TRUNC would have emptied it


def test_safe_writes_refuse_links_and_fifos(tmp_path):
    from bench.safe_io import UnsafePathError, append_text, write_atomic

    victim = tmp_path / "victim"
    victim.write_text("keep")
    link = tmp_path / "link"
    link.symlink_to(victim)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for target in (link, fifo, tmp_path):
        with pytest.raises(UnsafePathError):
            write_atomic(target, "x")
        with pytest.raises(UnsafePathError):
            append_text(target, "x")
    assert victim.read_text() == "keep"
    append_text(tmp_path / "new.log", "a\n")
    append_text(tmp_path / "new.log", "b\n")
    assert (tmp_path / "new.log").read_text() == "a\nb\n"


def test_the_parallel_check_file_is_written_through_the_safe_helper():
    """``.parallel-check`` is written with write_atomic (a link there refuses); Ray itself is too slow to start
    here, so the call site is checked in the source."""
    source = (ROOT / "bench" / "run" / "parallel.py").read_text(encoding="utf-8")
    assert "write_atomic(store.root / CHECK_FILE" in source and "CHECK_FILE).write_text" not in source


def test_write_baseline_through_a_link_is_refused(tmp_path, empirical_results, capsys):
    victim = tmp_path / "victim.json"
    victim.write_text("keep")
    link = tmp_path / "baseline.json"
    link.symlink_to(victim)
    done = cli(capsys, "check", "--results", str(empirical_results), "--write-baseline", str(link))
    assert done.returncode == 2 and "symbolic link" in one_line(done.stderr)
    assert victim.read_text() == "keep"


# -- 5. a changed input never mixes into a resumed run ---------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    from bench.run.pretrain import PretrainSettings, pretrain
    from bench.tasks.text import read_documents

    folder = tmp_path_factory.mktemp("model")
    corpus = folder / "slice.txt"
    corpus.write_text("\n\n".join(read_documents(ROOT / "corpora" / "stdlib_docstrings.txt")[:150]) + "\n")
    pretrain(corpus, folder / "tiny", PretrainSettings(vocab_size=400, steps=2, batch_size=2))
    return folder / "tiny"


def _text_suite(tmp_path: Path, model: Path, corpus: Path) -> Path:
    suite = {
        "suite": "t",
        "seeds": [0],
        "generations": 1,
        "task": {"name": "text", "params": {"corpus": str(corpus), "tokenizer": str(model), "chunk_tokens": 16}},
        "data": {"size": 10, "test_size": 4},
        "model": {"kind": "transformer", "pretrained": str(model), "init": "pretrained"},
        "training": {"max_iters": 1, "batch_size": 2, "block_size": 24, "warmup_iters": 0, "eval_interval": 1},
        "metrics": {"mauve": False},  # 10 samples: too few for MAUVE's k-means
        "scenarios": [{"name": "replace", "regime": {"kind": "replace"}}],
    }
    return write_suite(tmp_path / "t.yaml", suite)


def test_input_contents_are_in_the_run_id_and_the_generation_zero_key(tmp_path, tiny_model):
    import shutil

    from bench.run.loop import generation_zero_key_of
    from bench.suite.config import load_suite

    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    corpus = tmp_path / "c.txt"
    shutil.copy(ROOT / "corpora" / "stdlib_docstrings.txt", corpus)
    path = _text_suite(tmp_path, model, corpus)

    def ids() -> tuple[str, str]:
        suite = load_suite(path)
        return suite.run_id(), generation_zero_key_of(suite.resolved_scenarios()[0], 0)

    first = ids()
    assert ids() == first  # same contents, same ids
    with open(corpus, "a", encoding="utf-8") as handle:
        handle.write("\nOne more paragraph of text.\n")
    second = ids()
    assert second[0] != first[0] and second[1] != first[1]
    weights = model / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1  # one bit of one weight
    weights.write_bytes(bytes(data))
    third = ids()
    assert third[0] != second[0] and third[1] != second[1]


@pytest.mark.slow
def test_a_swapped_model_folder_is_refused_on_resume(tmp_path, tiny_model):
    import shutil

    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    corpus = tmp_path / "c.txt"
    shutil.copy(ROOT / "corpora" / "stdlib_docstrings.txt", corpus)
    suite = _text_suite(tmp_path, model, corpus)
    results = tmp_path / "results"
    first = bench("run", str(suite), "--results", str(results), "--quiet", "--allow-cpu")
    assert first.returncode == 0, first.stderr
    weights = model / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    again = bench("run", str(suite), "--results", str(results), "--quiet", "--allow-cpu")
    line = one_line(again.stderr)
    assert again.returncode == 2 and str(weights) in line and "changed" in line
    assert len(Store(results).runs()) == 1
