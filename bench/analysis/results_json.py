"""One results JSON per run, in the style of lm-evaluation-harness's ``results_*.json``.

lm-eval writes ``{"results": {task: {"acc,none": …, "acc_stderr,none": …}}, "higher_is_better", "configs",
"versions", "config", "git_hash", "date", …}``. Here a scenario plays the part of a task and the filter slot names
the summary over generations: ``"<metric>,final"`` is the mean over seeds at the last generation every seed
reached, ``"<metric>_stderr,final"`` its standard error over seeds, and ``"<metric>,auc"`` the normalized area
under the curve where the leaderboard computes one. The file is written next to ``bench.duckdb`` when a run
finishes and by ``bench report``; its content depends only on the database, so rewriting it is idempotent.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench.analysis.leaderboard import BoardRow, collect_curves
from bench.records import MetricRow

FORMAT = "collapse-bench-results"
FORMAT_VERSION = 1


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else (None if value is None else str(value))


def _json_value(text: Any) -> Any:
    """The store keeps JSON columns as text; older rows may hold NULL."""
    if text is None:
        return None
    return json.loads(text) if isinstance(text, str) else text


def _stderr(values: np.ndarray) -> float | None:
    return float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else None


def build_results(run: dict[str, Any], rows: Sequence[MetricRow], board: Sequence[BoardRow]) -> dict[str, Any]:
    """The results document of one run: its ``runs`` row, its metric rows and its leaderboard."""
    finite = [r for r in rows if r.value is not None and math.isfinite(float(r.value))]
    metrics = sorted({r.metric for r in finite})
    direction: dict[str, bool | None] = {}
    for r in finite:
        direction.setdefault(r.metric, r.higher_is_better)
    curves = collect_curves(finite, metrics) if finite else {}
    by_scenario = {b.scenario: b for b in board}
    config = _json_value(run.get("config")) or {}
    scenario_configs = {s.get("name"): s for s in config.get("scenarios", []) if isinstance(s, dict)}

    results: dict[str, dict[str, Any]] = {}
    for scenario, c in curves.items():
        entry: dict[str, Any] = {"alias": scenario, "n_seeds": len(c.seeds), "n_generations": c.n_generations}
        if c.n_generations > 0:
            for metric, values in sorted(c.values.items()):
                final = values[:, -1]
                entry[f"{metric},final"] = float(final.mean())
                entry[f"{metric}_stderr,final"] = _stderr(final)
        row = by_scenario.get(scenario)
        if row is not None:
            for (metric, summary), estimate in sorted(row.estimates.items()):
                if summary == "auc":
                    entry[f"{metric},auc"] = estimate.mean
                entry[f"{metric}_ci,{summary}"] = [estimate.low, estimate.high]
            for (metric, summary), cmp in sorted(row.comparisons.items()):
                entry[f"{metric}_diff_vs_{row.baseline},{summary}"] = cmp.difference.mean
                entry[f"{metric}_diff_p_holm,{summary}"] = cmp.p_holm
                entry[f"{metric}_diff_p,{summary}"] = cmp.p_value
                entry[f"{metric}_diff_p_reported,{summary}"] = cmp.p_reported
                entry[f"{metric}_diff_test,{summary}"] = cmp.test
                entry[f"{metric}_diff_primary,{summary}"] = cmp.primary
        results[scenario] = entry

    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "run_id": run.get("run_id"),
        "suite": run.get("suite"),
        "status": run.get("status"),
        "results": results,
        "higher_is_better": {s: {m: direction.get(m) for m in metrics} for s in results},
        "leaderboard_order": [b.scenario for b in board],
        "baseline": run.get("baseline"),
        "confidence": board[0].confidence if board else None,
        "configs": {s: scenario_configs.get(s) for s in results},
        "config": {k: v for k, v in config.items() if k != "scenarios"},
        "seeds": config.get("seeds"),
        "versions": _json_value(run.get("packages")) or {},
        "git_hash": run.get("git_commit"),
        "git_dirty": run.get("git_dirty"),
        "git_diff_sha256": run.get("git_diff_sha256"),
        "device": run.get("device"),
        "suite_path": run.get("suite_path"),
        "suite_hash": run.get("suite_hash"),
        "date": _iso(run.get("finished_at")) or _iso(run.get("started_at")),
        "started_at": _iso(run.get("started_at")),
        "finished_at": _iso(run.get("finished_at")),
    }


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def dumps(document: dict[str, Any]) -> str:
    """Stable text: sorted keys, no NaN (JSON has none; a missing number is ``null``)."""
    return json.dumps(_clean(document), indent=2, sort_keys=True, allow_nan=False) + "\n"


def save(path: Path, document: dict[str, Any]) -> Path:
    """Write atomically (temporary file + rename: a reader never sees half a file); a link there is refused."""
    from bench.safe_io import check_plain_file

    check_plain_file(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(dumps(document))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise
    return path


def document_for_run(store: Any, run: dict[str, Any], board: Sequence[BoardRow] | None = None) -> dict[str, Any]:
    """The document of ``run`` read from ``store`` (a :class:`bench.store.database.Store`; passed in, so that this
    analysis module does not import storage). ``board`` defaults to the leaderboard the ``leaderboard`` command
    shows."""
    from bench.analysis.leaderboard import build_leaderboard, primary_contrast

    rows = store.metric_rows(run["run_id"])
    if board is None:
        contrast = primary_contrast(run.get("config"))
        board = build_leaderboard(rows, baseline=run.get("baseline"), contrast=contrast) if rows else []
    return build_results(run, rows, board)
