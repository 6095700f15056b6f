"""Plugins: a mitigation and a metric registered from outside the package, through entry points, used in a suite.

The plugin is a real distribution on ``sys.path`` (a package plus its ``.dist-info`` with ``entry_points.txt``), so
``importlib.metadata`` finds it exactly as it finds a pip-installed one.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import MICRO, ROOT, bench, make_plugin, write_suite


def with_plugin(*args: str, plugin_path: Path) -> subprocess.CompletedProcess:
    """``bench ARGS`` in a process of its own that finds the plugin's entry points on its PYTHONPATH."""
    return bench(*args, process=True, env={"PYTHONPATH": os.pathsep.join([str(plugin_path), str(ROOT)])})


@pytest.mark.slow
def test_plugin_mitigation_and_metric_are_used_in_a_suite(tmp_path):
    plugin = make_plugin(tmp_path / "plugin")
    suite = {
        **MICRO,
        "seeds": [0],
        "generations": 2,
        "scenarios": [
            {"name": "replace", "regime": {"kind": "replace"}},
            {"name": "capped", "regime": {"kind": "replace"}, "mitigations": [{"name": "length_cap", "max_tokens": 3}]},
        ],
    }
    path = write_suite(tmp_path / "plugin_suite.yaml", suite)
    results = tmp_path / "results"

    # Without the plugin the suite is invalid, and the error names the mitigation.
    env_less = bench("validate", str(path), process=True)
    assert env_less.returncode == 2 and "length_cap" in env_less.stderr

    run = with_plugin("run", str(path), "--results", str(results), "--quiet", plugin_path=plugin)
    assert run.returncode == 0, run.stderr
    board = json.loads(
        with_plugin(
            "leaderboard",
            "--results",
            str(results),
            "--format",
            "json",
            "--metrics",
            "short_share",
            plugin_path=plugin,
        ).stdout
    )
    capped = next(r for r in board if r["scenario"] == "capped")
    assert 0.0 <= capped["short_share_final"] <= 1.0

    import duckdb

    with duckdb.connect(str(results / "bench.duckdb"), read_only=True) as con:
        (direction,) = con.execute(
            "SELECT DISTINCT higher_is_better FROM metrics WHERE metric = 'short_share'"
        ).fetchone()
        drops = con.execute("SELECT DISTINCT reason FROM drops WHERE scenario = 'capped'").fetchall()
    assert direction is True  # declared once, by the plugin's registration
    assert ("length_cap:too_long",) in drops
