"""One results JSON per run, in the style of lm-evaluation-harness's ``results_*.json``.

lm-eval writes ``{"results": {task: {"acc,none": …, "acc_stderr,none": …}}, "higher_is_better", "configs",
"versions", "config", "git_hash", "date", …}``. Here a scenario plays the part of a task and the filter slot names
the summary over generations: ``"<metric>,final"`` is the mean over seeds at the last generation every seed
reached, ``"<metric>_stderr,final"`` its standard error over seeds, and ``"<metric>,auc"`` the normalized area
under the curve where the leaderboard computes one. The file is written next to ``bench.duckdb`` when a run
finishes and by ``bench report``; its content depends only on the database, so rewriting it is idempotent.

The document is a Pydantic model (:class:`ResultsDocument`, like inspect_ai's ``EvalLog``): every key is a
declared, described field, and ``format_version`` says which version of this layout a file has.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, StrictBool, StrictFloat, StrictInt, StrictStr

from bench.analysis.leaderboard import BoardRow, ScenarioCurves, build_leaderboard, collect_curves, primary_contrast
from bench.records import MetricRow, RunRow

FORMAT = "collapse-bench-results"
FORMAT_VERSION = 1

# One value of a scenario's summary: a mean, a standard error or p-value (None where it has none), an interval
# ``[low, high]``, a test's name or whether the comparison is the pre-registered one. Int before float, so that a
# count stays an int in the file.
SummaryValue = StrictInt | StrictFloat | StrictStr | StrictBool | list[StrictInt | StrictFloat | None] | None


class ScenarioResults(BaseModel):
    """One scenario's summary over seeds. Besides the declared fields, one key per metric and summary:
    ``"<metric>,final"`` (mean at the last common generation), ``"<metric>_stderr,final"``, ``"<metric>,auc"``,
    ``"<metric>_ci,<summary>"`` (``[low, high]``) and, against the baseline scenario, ``"<metric>_diff_vs_<baseline>,
    <summary>"``, ``"<metric>_diff_p,<summary>"``, ``"<metric>_diff_p_holm,<summary>"``,
    ``"<metric>_diff_p_reported,<summary>"``, ``"<metric>_diff_test,<summary>"`` and ``"<metric>_diff_primary,
    <summary>"``."""

    model_config = ConfigDict(extra="allow", strict=True, frozen=True, use_attribute_docstrings=True)
    __pydantic_extra__: dict[str, SummaryValue]

    alias: str
    """The scenario's name (lm-eval's task alias)."""
    n_seeds: int
    """Seeds with rows for the scenario."""
    n_generations: int
    """Generations 0..n-1 that every seed reached: the span the summaries cover."""


class ResultsDocument(BaseModel):
    """The results JSON of one run: its summaries per scenario and where they came from."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, use_attribute_docstrings=True)

    format: Literal["collapse-bench-results"] = FORMAT
    """What this file is."""
    format_version: Literal[1] = FORMAT_VERSION
    """The version of this layout; a change of a key's meaning bumps it."""
    run_id: str
    """The run: the suite name and the first 12 hex digits of the SHA-256 of its resolved settings."""
    suite: str
    """The suite's name."""
    status: str
    """The run's status when the file was written: running, finished or failed."""
    results: dict[str, ScenarioResults]
    """Per scenario, its summaries over seeds (see :class:`ScenarioResults`)."""
    higher_is_better: dict[str, dict[str, bool | None]]
    """Per scenario and metric, whether higher is better (``None``: a descriptive statistic)."""
    leaderboard_order: list[str]
    """The scenarios as the leaderboard ranks them."""
    baseline: str | None
    """The scenario the paired differences are taken against."""
    confidence: float | None
    """The confidence level of every interval (``None`` with no leaderboard rows)."""
    configs: dict[str, dict[str, Any] | None]
    """Per scenario, its resolved settings (``None`` for a scenario the stored settings do not name)."""
    config: dict[str, Any]
    """The suite-level resolved settings (every key but ``scenarios``)."""
    seeds: list[int] | None
    """The suite's seeds."""
    versions: dict[str, Any]
    """Package versions the run recorded."""
    git_hash: str | None
    """The commit the run started from."""
    git_dirty: bool | None
    """Whether that checkout had uncommitted changes (``None``: not recorded)."""
    git_diff_sha256: str | None
    """SHA-256 of ``git diff HEAD`` when the checkout was dirty."""
    device: str | None
    """The device the run trained on."""
    suite_path: str | None
    """The suite file the run read."""
    suite_hash: str | None
    """SHA-256 of that file."""
    date: str | None
    """When the run finished (else when it started), ISO 8601."""
    started_at: str | None
    """When the run started, ISO 8601."""
    finished_at: str | None
    """When the run finished, ISO 8601 (``None`` while it has not)."""


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else (None if value is None else str(value))


def _stderr(values: np.ndarray) -> float | None:
    return float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else None


def _scenario_results(scenario: str, curves: ScenarioCurves, row: BoardRow | None) -> ScenarioResults:
    entry: dict[str, Any] = {}
    if curves.n_generations > 0:
        for metric, values in sorted(curves.values.items()):
            final = values[:, -1]
            entry[f"{metric},final"] = float(final.mean())
            entry[f"{metric}_stderr,final"] = _stderr(final)
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
    return ScenarioResults(alias=scenario, n_seeds=len(curves.seeds), n_generations=curves.n_generations, **entry)


def build_results(run: RunRow, rows: Sequence[MetricRow], board: Sequence[BoardRow]) -> ResultsDocument:
    """The results document of one run: its ``runs`` row, its metric rows and its leaderboard."""
    finite = [r for r in rows if r.value is not None and math.isfinite(float(r.value))]
    metrics = sorted({r.metric for r in finite})
    direction: dict[str, bool | None] = {}
    for r in finite:
        direction.setdefault(r.metric, r.higher_is_better)
    curves = collect_curves(finite, metrics) if finite else {}
    by_scenario = {b.scenario: b for b in board}
    config = run.settings() or {}
    scenario_configs = {s.get("name"): s for s in config.get("scenarios", []) if isinstance(s, dict)}
    results = {scenario: _scenario_results(scenario, c, by_scenario.get(scenario)) for scenario, c in curves.items()}
    return ResultsDocument(
        run_id=run.run_id,
        suite=run.suite,
        status=run.status,
        results=results,
        higher_is_better={s: {m: direction.get(m) for m in metrics} for s in results},
        leaderboard_order=[b.scenario for b in board],
        baseline=run.baseline,
        confidence=board[0].confidence if board else None,
        configs={s: scenario_configs.get(s) for s in results},
        config={k: v for k, v in config.items() if k != "scenarios"},
        seeds=config.get("seeds"),
        versions=run.package_versions(),
        git_hash=run.git_commit,
        git_dirty=run.git_dirty,
        git_diff_sha256=run.git_diff_sha256,
        device=run.device,
        suite_path=run.suite_path,
        suite_hash=run.suite_hash,
        date=_iso(run.finished_at) or _iso(run.started_at),
        started_at=_iso(run.started_at),
        finished_at=_iso(run.finished_at),
    )


def document_for_run(
    run: RunRow, rows: Sequence[MetricRow], board: Sequence[BoardRow] | None = None
) -> ResultsDocument:
    """The document of ``run`` from its metric rows; ``board`` defaults to the leaderboard the ``leaderboard``
    command shows."""
    if board is None:
        board = build_leaderboard(rows, baseline=run.baseline, contrast=primary_contrast(run.config)) if rows else []
    return build_results(run, rows, board)


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def dumps(document: ResultsDocument) -> str:
    """Stable text: sorted keys, no NaN (JSON has none; a missing number is ``null``)."""
    return json.dumps(_clean(document.model_dump()), indent=2, sort_keys=True, allow_nan=False) + "\n"


def loads(text: str) -> ResultsDocument:
    """A results file read back (``ValueError`` when it is not one of this version)."""
    return ResultsDocument.model_validate_json(text, strict=False)


def save(path: Path, document: ResultsDocument) -> Path:
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
