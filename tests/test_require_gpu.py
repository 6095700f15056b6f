"""The container's GPU guard (BENCH_REQUIRE_GPU, --allow-cpu) and the commit it records (BENCH_GIT_COMMIT)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from bench.cli.main import main
from bench.device import REQUIRE_GPU_ENV, cpu_refusal
from bench.run.provenance import git_commit

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = (ROOT / "Dockerfile").read_text()

no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is visible: nothing to refuse")


def test_the_dockerfile_sets_the_variable_the_code_reads() -> None:
    assert re.search(rf"\b{REQUIRE_GPU_ENV}=1\b", DOCKERFILE)
    assert re.search(r'\bBENCH_GIT_COMMIT="\$\{GIT_COMMIT\}"', DOCKERFILE)


@no_cuda
@pytest.mark.parametrize(
    ("value", "allow_cpu", "refused"),
    [
        (None, False, False),  # outside the container: CPU is fine
        ("0", False, False),
        ("1", False, True),
        ("true", False, True),
        ("1", True, False),  # --allow-cpu
    ],
)
def test_cpu_refusal(monkeypatch, value: str | None, allow_cpu: bool, refused: bool) -> None:
    if value is None:
        monkeypatch.delenv(REQUIRE_GPU_ENV, raising=False)
    else:
        monkeypatch.setenv(REQUIRE_GPU_ENV, value)
    message = cpu_refusal(allow_cpu)
    assert (message is not None) == refused
    if refused:
        assert "--allow-cpu" in message and "--gpus all" in message


@no_cuda
def test_run_without_a_gpu_exits_2_with_one_line_and_writes_nothing(monkeypatch, capsys, tmp_path) -> None:
    monkeypatch.setenv(REQUIRE_GPU_ENV, "1")
    results = tmp_path / "results"
    assert main(["run", str(ROOT / "suites" / "smoke.yaml"), "--results", str(results)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("bench: error: no CUDA device is visible"), err
    assert not results.exists()


def test_git_commit_falls_back_to_the_recorded_build_argument(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("BENCH_GIT_COMMIT", "0123abc")
    monkeypatch.setenv("PATH", str(tmp_path))  # no git here, as in the image
    assert git_commit() == "0123abc"
    monkeypatch.delenv("BENCH_GIT_COMMIT")
    assert git_commit() is None


@no_cuda
@pytest.mark.slow
def test_allow_cpu_runs_and_records_the_image_commit(monkeypatch, capsys, tmp_path) -> None:
    """What the container does on a CPU machine with --allow-cpu: the run goes ahead and records the build's commit."""
    import duckdb
    import yaml
    from conftest import MICRO

    suite = tmp_path / "micro.yaml"
    suite.write_text(yaml.safe_dump(dict(MICRO, seeds=[0], generations=2, scenarios=MICRO["scenarios"][:1])))
    monkeypatch.setenv(REQUIRE_GPU_ENV, "1")
    monkeypatch.setenv("BENCH_GIT_COMMIT", "f" * 40)
    monkeypatch.setenv("PATH", str(tmp_path))  # no git, as in the image
    results = tmp_path / "results"
    assert main(["run", str(suite), "--results", str(results), "--quiet", "--allow-cpu"]) == 0
    assert "finished" in capsys.readouterr().out
    with duckdb.connect(str(results / "bench.duckdb"), read_only=True) as con:
        assert con.execute("SELECT git_commit FROM runs").fetchall() == [("f" * 40,)]
