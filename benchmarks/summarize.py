"""Condense a pytest-benchmark JSON file into ``perf.json``: the headline ratios, the device, every extra_info.

Usage: ``python -m benchmarks.summarize results/benchmarks.json results/perf.json``

Headline numbers (``null`` when their benchmark did not run):

* ``train_vs_bare_torch``: useful tokens/s of ``bench.learners.transformer.train.train`` / a naive padded PyTorch loop
(> 1: ours faster);
  ``train_vs_bare_torch_packed``: the same against a plain loop on our packed blocks (the harness's overhead);
* ``sample_vs_hf_generate``: samples/s of ``bench.learners.transformer.sample.sample`` / ``model.generate`` (> 1: ours
faster);
  ``sample_vs_hf_generate_paper_untrained``: the same with the untrained paper-size model;
* ``cells_speedup_2_workers``: smoke-suite wall time sequential (torch on every core) / with ``--workers 2``
  (> 1: parallel faster); its extra_info says where the parallel time went (Ray start-up, first cell, slowest cell);
  ``cells_speedup_ceiling_2_workers``: the most two one-thread cells at once could give against that sequential
  run (2 × its seconds / the one-thread sequential run's seconds), measured in the same benchmark;
* ``diversity_10k_seconds``: mean seconds of the exact all-pairs diversity of 10,000 samples;
* ``identities_verify_10k_seconds``: mean seconds to verify 10,000 generated identities with 2,000 distinct
  (cold cache, one core; the goal is at most 10 s).

Only ratios mean much on a shared machine: both sides of each were measured in the same run, side by side.

Exit status: 0 when every headline key has a value and every goal in ``GOALS`` is met; 1 when a key is null (its
benchmark did not run) or a goal is missed, with one line for each on stderr (perf.json is written either way);
2 when the input is not a pytest-benchmark file.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

RATIO_KEYS = (
    "train_vs_bare_torch",
    "train_vs_bare_torch_packed",
    "sample_vs_hf_generate",
    "sample_vs_hf_generate_paper_untrained",
    "cells_speedup_2_workers",
    "cells_speedup_ceiling_2_workers",
)
# key -> (at least, at most): what `make bench` holds the code to (docs/design.md, "Speed").
GOALS: dict[str, tuple[float | None, float | None]] = {
    "train_vs_bare_torch_packed": (0.95, None),  # the harness costs at most 5% over a bare loop on the same blocks
    "sample_vs_hf_generate": (1.0, None),  # no slower than Hugging Face generate
    "diversity_10k_seconds": (None, 60.0),
    "identities_verify_10k_seconds": (None, 10.0),
}
DIVERSITY_TEST = "test_diversity_exact_10k"
IDENTITIES_TEST = "test_verify_10k_with_2k_distinct"
HEADLINE_KEYS = (*RATIO_KEYS, "diversity_10k_seconds", "identities_verify_10k_seconds")


class SummaryError(ValueError):
    """The input is missing or is not a pytest-benchmark JSON file."""


def load(path: Path) -> dict[str, Any]:
    """The pytest-benchmark JSON at ``path``; SummaryError with a one-line reason otherwise."""
    if not path.is_file():
        raise SummaryError(
            f"no benchmark results at {path} (run: pytest benchmarks --benchmark-only --benchmark-json={path})"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SummaryError(f"{path} is not readable JSON: {error}") from None
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        raise SummaryError(f"{path} is not a pytest-benchmark JSON file (no 'benchmarks' list)")
    return data


def _first(extra: dict[str, dict[str, Any]], key: str) -> Any:
    """The value of ``key`` in the first benchmark's extra_info that has it."""
    return next((info[key] for info in extra.values() if key in info), None)


def _diversity_seconds(benchmarks: list[dict[str, Any]]) -> float | None:
    for bench in benchmarks:
        if bench.get("name") == DIVERSITY_TEST:
            info = bench.get("extra_info") or {}
            return info.get("seconds_10k_mean", (bench.get("stats") or {}).get("mean"))
    return None


def _mean_seconds(benchmarks: list[dict[str, Any]], name: str) -> float | None:
    return next(((b.get("stats") or {}).get("mean") for b in benchmarks if b.get("name") == name), None)


def _device(extra: dict[str, dict[str, Any]], machine: dict[str, Any]) -> str:
    """The device a torch benchmark recorded, else the processor pytest-benchmark saw."""
    recorded = _first(extra, "device")
    if recorded is not None:
        return str(recorded)
    cpu = machine.get("cpu") or {}
    brand = cpu.get("brand_raw") or machine.get("processor") or "unknown"
    return f"cpu: {brand}, {cpu.get('count', '?')} cores (no torch benchmark ran)"


def _torch_version(extra: dict[str, dict[str, Any]]) -> str | None:
    recorded = _first(extra, "torch_version")
    if recorded is not None:
        return str(recorded)
    try:  # the installed version, without importing torch (slow) just for its number
        return metadata.version("torch")
    except metadata.PackageNotFoundError:
        return None


def summarize(data: dict[str, Any]) -> dict[str, Any]:
    """perf.json's content from a pytest-benchmark JSON document."""
    benchmarks = [b for b in data["benchmarks"] if isinstance(b, dict) and "name" in b]
    extra = {b["name"]: dict(b.get("extra_info") or {}) for b in benchmarks}
    stats_keys = ("min", "max", "mean", "median", "stddev", "rounds")
    stats = {b["name"]: {k: (b.get("stats") or {}).get(k) for k in stats_keys} for b in benchmarks}
    machine = data.get("machine_info") or {}
    summary: dict[str, Any] = {key: _first(extra, key) for key in RATIO_KEYS}
    summary.update(
        diversity_10k_seconds=_diversity_seconds(benchmarks),
        identities_verify_10k_seconds=_mean_seconds(benchmarks, IDENTITIES_TEST),
        device=_device(extra, machine),
        torch_version=_torch_version(extra),
        python_version=machine.get("python_version"),
        timestamp=data.get("datetime"),  # when the benchmarks ran (pytest-benchmark's own stamp)
        summarized_at=datetime.now(UTC).isoformat(timespec="seconds"),
        commit=(data.get("commit_info") or {}).get("id"),
        extra_info=extra,
        stats_seconds=stats,
    )
    return summary


def shortfalls(summary: dict[str, Any]) -> list[str]:
    """One line for each headline key without a value and each goal missed; empty when all is well."""
    problems = [f"{key} is null: its benchmark did not run" for key in HEADLINE_KEYS if summary.get(key) is None]
    problems += [f"{key} is null" for key, value in summary.items() if value is None and key not in HEADLINE_KEYS]
    for key, (low, high) in GOALS.items():
        value = summary.get(key)
        if value is None:
            continue
        if low is not None and value < low:
            problems.append(f"{key} = {value:.3g} misses its goal of at least {low:g}")
        if high is not None and value > high:
            problems.append(f"{key} = {value:.3g} misses its goal of at most {high:g}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.summarize", description=__doc__.splitlines()[0])
    parser.add_argument("benchmark_json", type=Path, help="pytest-benchmark --benchmark-json output")
    parser.add_argument("perf_json", type=Path, help="where to write the summary")
    args = parser.parse_args(argv)
    try:
        summary = summarize(load(args.benchmark_json))
    except SummaryError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    args.perf_json.parent.mkdir(parents=True, exist_ok=True)
    args.perf_json.write_text(json.dumps(summary, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    shown = {k: summary[k] for k in (*HEADLINE_KEYS, "device")}
    print(json.dumps(shown, indent=2))
    problems = shortfalls(summary)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
