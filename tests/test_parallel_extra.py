"""Ray is the optional extra `parallel`: without it, asking for parallel cells is bad input (one line, exit 2)."""

from __future__ import annotations

import sys

import pytest
from conftest import assert_one_line_failure, bench


@pytest.mark.parametrize(("options", "option"), [(["--workers", "2"], "--workers"), (["--ray", "auto"], "--ray")])
@pytest.mark.parametrize("command", ["run", "validate"])
def test_parallel_options_without_ray_name_the_extra(micro_suite, tmp_path, monkeypatch, options, option, command):
    monkeypatch.setitem(sys.modules, "ray", None)  # what an install without the extra sees: `import ray` fails
    results = ["--results", str(tmp_path / "results")] if command == "run" else []
    result = bench(command, str(micro_suite), *results, *options)
    assert_one_line_failure(result, f"{option} needs Ray", "collapse-bench[parallel]")
    assert not (tmp_path / "results").exists()


def test_the_sequential_path_needs_no_ray(micro_suite, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    assert bench("validate", str(micro_suite)).returncode == 0
