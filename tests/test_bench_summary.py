"""`make bench`'s verdict (benchmarks/summarize.py): every headline key has a value and every goal is met."""

from __future__ import annotations

import json

import pytest

from benchmarks.summarize import GOALS, HEADLINE_KEYS, main, shortfalls


def benchmark_json(**extra: float) -> dict:
    """A pytest-benchmark document whose benchmarks recorded ``extra`` (one benchmark per key)."""
    benchmarks = [
        {"name": f"test_{key}", "extra_info": {key: value}, "stats": {"mean": 1.0}} for key, value in extra.items()
    ]
    benchmarks += [
        {"name": "test_diversity_exact_10k", "extra_info": {"seconds_10k_mean": 0.4}, "stats": {"mean": 0.4}},
        {"name": "test_verify_10k_with_2k_distinct", "extra_info": {}, "stats": {"mean": 0.8}},
    ]
    return {
        "benchmarks": benchmarks,
        "machine_info": {"python_version": "3.11.9", "cpu": {"brand_raw": "x"}},
        "datetime": "2026-01-01T00:00:00",
        "commit_info": {"id": "abc"},
    }


MET = {
    "train_vs_bare_torch": 1.5,
    "train_vs_bare_torch_packed": 0.97,
    "sample_vs_hf_generate": 3.0,
    "sample_vs_hf_generate_paper_untrained": 2.0,
    "cells_speedup_2_workers": 1.2,
    "cells_speedup_ceiling_2_workers": 1.5,
}


def run(tmp_path, document: dict) -> tuple[int, dict]:
    source, target = tmp_path / "benchmarks.json", tmp_path / "perf.json"
    source.write_text(json.dumps(document))
    code = main([str(source), str(target)])
    return code, json.loads(target.read_text())


def test_all_goals_met_passes_and_writes_no_null(tmp_path, capsys):
    code, perf = run(tmp_path, benchmark_json(**MET))
    assert code == 0, capsys.readouterr().err
    assert all(value is not None for value in perf.values())
    assert set(HEADLINE_KEYS) <= set(perf) and set(GOALS) <= set(perf)


@pytest.mark.parametrize(
    ("key", "value", "needle"),
    [
        ("train_vs_bare_torch_packed", 0.93, "train_vs_bare_torch_packed = 0.93 misses its goal of at least 0.95"),
        ("sample_vs_hf_generate", 0.9, "sample_vs_hf_generate = 0.9 misses its goal of at least 1"),
    ],
)
def test_a_missed_ratio_fails(tmp_path, capsys, key, value, needle):
    code, perf = run(tmp_path, benchmark_json(**{**MET, key: value}))
    assert code == 1 and perf[key] == value  # written either way, for the record
    assert needle in capsys.readouterr().err


def test_a_benchmark_that_did_not_run_fails(tmp_path, capsys):
    partial = {k: v for k, v in MET.items() if k != "cells_speedup_2_workers"}
    code, perf = run(tmp_path, benchmark_json(**partial))
    assert code == 1 and perf["cells_speedup_2_workers"] is None
    assert "cells_speedup_2_workers is null" in capsys.readouterr().err


def test_slow_seconds_miss_their_goal():
    summary = {key: 1.0 for key in HEADLINE_KEYS} | {"diversity_10k_seconds": 61.0, "identities_verify_10k_seconds": 11}
    assert shortfalls(summary) == [
        "diversity_10k_seconds = 61 misses its goal of at most 60",
        "identities_verify_10k_seconds = 11 misses its goal of at most 10",
    ]
