"""``bench compare R1 R2 ...``: several runs side by side (W&B's run comparison).

Each argument is a results directory (its newest run with finished generations) or a run id in ``--results``; the
CLI resolves them (``bench.cli.compare.resolve_runs``) and hands over each run's row and metric rows. The table holds
the scenarios every run has and the metrics every run carries: per (scenario, metric) the final-generation mean over
seeds with its interval (the leaderboard's :func:`bench.analysis.leaderboard.build_leaderboard`, one board per run).
Its header names the settings that differ between the runs, read from each run's resolved configuration, so "why do
these numbers differ" has its answer above them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.analysis.leaderboard import DEFAULT_METRICS, BoardRow, build_leaderboard
from bench.analysis.leaderboard_formats import format_interval, render_plain
from bench.records import MetricRow, RunRow


class CompareError(ValueError):
    """An argument that names no run (one line)."""


@dataclass(frozen=True)
class ComparedRun:
    label: str  # what the user typed
    run: RunRow
    rows: list[MetricRow]


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}, "s": [{"name": "x", ...}]}`` -> ``{"a.b": 1, "s[x]...": ...}`` (lists of named items keyed
    by name, as ``--set`` addresses scenarios; other lists kept whole)."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out |= flatten(item, f"{prefix}.{key}" if prefix else str(key))
        return out
    if isinstance(value, list) and value and all(isinstance(i, dict) and "name" in i for i in value):
        out = {}
        for item in value:
            out |= flatten({k: v for k, v in item.items() if k != "name"}, f"{prefix}[{item['name']}]")
        return out
    return {prefix: value}


def differing_settings(runs: Sequence[ComparedRun]) -> dict[str, list[Any]]:
    """Setting -> its value in each run, for the settings that are not the same in all runs (commit included)."""
    flat = []
    for r in runs:
        settings = flatten(r.run.settings() or {})
        settings["commit"] = (r.run.git_commit or "unknown")[:12]
        flat.append(settings)
    # A scenario only some runs have is one line ("present" / "(absent)"), not one line per field of it.
    names = [{k.split("]", 1)[0] + "]" for k in f if k.startswith("scenarios[")} for f in flat]
    partial = set().union(*names) - set.intersection(*names)
    for f, mine in zip(flat, names, strict=True):
        for key in [k for k in f if k.startswith("scenarios[") and k.split("]", 1)[0] + "]" in partial]:
            del f[key]
        for name in partial & mine:
            f[name] = "present"
    keys = sorted(set().union(*flat))
    missing = "(absent)"
    return {
        key: [f.get(key, missing) for f in flat]
        for key in keys
        if len({json.dumps(f.get(key, missing), sort_keys=True, default=str) for f in flat}) > 1
    }


@dataclass(frozen=True)
class Comparison:
    runs: list[ComparedRun]
    scenarios: list[str]
    metrics: list[str]
    boards: list[dict[str, BoardRow]]
    differing: dict[str, list[Any]]

    def cell(self, i: int, scenario: str, metric: str) -> str:
        row = self.boards[i].get(scenario)
        return format_interval(None if row is None else row.estimates.get((metric, "final")))

    def to_dict(self) -> dict[str, Any]:
        return {
            "runs": [{"argument": r.label, "run_id": r.run.run_id, "suite": r.run.suite} for r in self.runs],
            "differing_settings": self.differing,
            "rows": [
                {
                    "scenario": s,
                    "metric": m,
                    "final": [
                        None if (e := self.boards[i][s].estimates.get((m, "final"))) is None else e.__dict__
                        for i in range(len(self.runs))
                    ],
                }
                for s in self.scenarios
                for m in self.metrics
            ],
        }


def compare_runs(runs: Sequence[ComparedRun], metrics: Sequence[str] | None = None) -> Comparison:
    """The shared scenarios and metrics of ``runs`` and one leaderboard per run over them."""
    scenario_sets = [list(dict.fromkeys(r.scenario for r in run.rows)) for run in runs]
    scenarios = [s for s in scenario_sets[0] if all(s in other for other in scenario_sets[1:])]
    if not scenarios:
        raise CompareError("the runs share no scenario: nothing to compare")
    carried = set.intersection(*({r.metric for r in run.rows} for run in runs))
    wanted = list(metrics) if metrics else [m for m in DEFAULT_METRICS if m in carried]
    for m in wanted:
        if m not in carried:
            raise CompareError(f"--metrics {m}: not carried by every run; shared: {', '.join(sorted(carried))}")
    if not wanted:
        raise CompareError("the runs share none of the default metrics; name some with --metrics")
    boards = []
    for run in runs:
        rows = [r for r in run.rows if r.scenario in scenarios]
        board = build_leaderboard(rows, primary=wanted[0], metrics=wanted)
        boards.append({b.scenario: b for b in board})
    return Comparison(list(runs), scenarios, wanted, boards, differing_settings(runs))


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def format_comparison(comparison: Comparison, width: int = 100) -> str:
    """A plain-text table: a header naming the runs and the settings that differ, then one line per (scenario,
    metric) with each run's final value [interval]."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    lines = ["runs compared (final generation, mean over seeds [95% CI]):"]
    for i, r in enumerate(comparison.runs, start=1):
        lines.append(f"  R{i}: {r.run.run_id} (suite {r.run.suite}, {r.run.status}) from {r.label}")
    if comparison.differing:
        lines.append("settings that differ:")
        for key, values in comparison.differing.items():
            lines.append(f"  {key}: " + " | ".join(f"R{i} {_shown(v)}" for i, v in enumerate(values, start=1)))
    else:
        lines.append("settings that differ: none (same resolved configuration and commit)")
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("scenario")
    table.add_column("metric")
    for i in range(len(comparison.runs)):
        table.add_column(f"R{i + 1}", justify="right")
    for s in comparison.scenarios:
        for m in comparison.metrics:
            table.add_row(Text(s), m, *(comparison.cell(i, s, m) for i in range(len(comparison.runs))))
    return "\n".join(lines) + "\n\n" + render_plain([table], max(width, 60))
