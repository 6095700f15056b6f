"""``bench export``: a run's per-generation metrics in TensorBoard or MLflow, generation as the step.

Both writers are the libraries' own, installed as the optional extra ``export`` (``pip install '.[export]'``):

- ``tensorboard``: ``torch.utils.tensorboard.SummaryWriter`` (event files need the ``tensorboard`` package), one log
  folder per cell, ``DIR/RUN_ID/SCENARIO/seed-S``, one scalar per metric (float32, as TensorBoard stores scalars).
  ``tensorboard --logdir DIR`` then overlays scenarios and seeds. A cell folder that already holds event files is
  refused: a second export would append a second copy of every point.
- ``mlflow``: an MLflow tracking store in SQLite, ``DIR/mlflow.db`` (MLflow's recommended local backend; its file
  store is in maintenance mode), with artifacts under ``DIR/artifacts``. The suite is the experiment; each cell is
  one MLflow run tagged ``bench.run_id``, ``bench.scenario``, ``bench.seed``; its scenario settings are params; each
  metric is logged per generation (timestamp: when the generation was stored). Exporting a run again replaces its
  MLflow runs. View with ``mlflow ui --backend-store-uri sqlite:///DIR/mlflow.db``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.records import MetricRow, RunRow

# When each generation was stored, by (scenario, seed, generation): MLflow's metric timestamps.
FinishTimes = Mapping[tuple[str, int, int], datetime]

INSTALL_HINT = "pip install 'collapse-bench[export]'"


class ExportError(ValueError):
    """An export that cannot be done (missing extra, unsafe name, existing export): one line for the user."""


def _component(name: str, what: str) -> str:
    """A name used as one path component: nothing that could leave its folder or hide in a listing."""
    if not name or name in (".", "..") or any(c in name for c in "/\\\0") or any(ord(c) < 32 for c in name):
        raise ExportError(f"{what} {name!r} cannot be used as a folder name")
    return name


def _cells(rows: Sequence[MetricRow]) -> dict[tuple[str, int], list[MetricRow]]:
    cells: dict[tuple[str, int], list[MetricRow]] = {}
    for r in sorted(rows, key=lambda r: (r.scenario, r.seed, r.generation, r.metric)):
        cells.setdefault((r.scenario, int(r.seed)), []).append(r)
    return cells


def export_tensorboard(out: Path, run: RunRow, rows: Sequence[MetricRow]) -> list[Path]:
    """One event-file folder per cell; returns the folders."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ExportError(f"--format tensorboard needs the tensorboard package: {INSTALL_HINT}") from None
    cells = _cells(rows)
    run_id = _component(run.run_id, "run id")
    folders = {key: out / run_id / _component(key[0], "scenario") / f"seed-{key[1]}" for key in cells}
    for folder in folders.values():
        if folder.is_dir() and any(p.name.startswith("events.out.tfevents") for p in folder.iterdir()):
            raise ExportError(
                f"{folder}: already holds a TensorBoard export of this run; remove it or pick another DIR"
            )
    for key, cell_rows in cells.items():
        writer = SummaryWriter(log_dir=str(folders[key]))
        try:
            for r in cell_rows:
                writer.add_scalar(r.metric, float(r.value), global_step=int(r.generation))
        finally:
            writer.close()
    return list(folders.values())


def _flatten(value: Any, prefix: str = "") -> dict[str, str]:
    """Nested settings as ``a.b.c`` params (lists as JSON)."""
    if isinstance(value, dict):
        out: dict[str, str] = {}
        for key, item in value.items():
            out |= _flatten(item, f"{prefix}.{key}" if prefix else str(key))
        return out
    return {prefix: json.dumps(value) if isinstance(value, list) else str(value)}


def _millis(value: Any) -> int:
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return int(moment.timestamp() * 1000)
    return 0


def export_mlflow(out: Path, run: RunRow, rows: Sequence[MetricRow], finished_at: FinishTimes) -> str:
    """One MLflow run per cell in ``out/mlflow.db``; returns the tracking URI."""
    try:
        from mlflow.entities import Metric, Param
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise ExportError(f"--format mlflow needs mlflow-skinny: {INSTALL_HINT}") from None
    for name in ("mlflow", "alembic"):  # schema-migration chatter on a new store
        logging.getLogger(name).setLevel(logging.WARNING)
    out.mkdir(parents=True, exist_ok=True)
    uri = f"sqlite:///{(out / 'mlflow.db').resolve()}"
    client = MlflowClient(tracking_uri=uri)
    suite = run.suite
    experiment = client.get_experiment_by_name(suite)
    if experiment is None:
        experiment_id = client.create_experiment(suite, artifact_location=(out / "artifacts").resolve().as_uri())
    else:
        experiment_id = experiment.experiment_id
    config = run.settings() or {}
    scenario_config = {s.get("name"): s for s in config.get("scenarios", []) if isinstance(s, dict)}
    run_id = run.run_id
    for old in client.search_runs([experiment_id], filter_string=f"tags.`bench.run_id` = '{run_id}'"):
        client.delete_run(old.info.run_id)  # a second export replaces the first
    for (scenario, seed), cell_rows in _cells(rows).items():
        tags = {"bench.run_id": run_id, "bench.scenario": scenario, "bench.seed": str(seed), "bench.suite": suite}
        if run.git_commit:
            tags["mlflow.source.git.commit"] = run.git_commit
        created = client.create_run(experiment_id, tags=tags, run_name=f"{scenario} seed {seed}")
        params = [Param(k, v) for k, v in sorted(_flatten(scenario_config.get(scenario, {})).items()) if k]
        metrics = [
            Metric(r.metric, float(r.value), _millis(finished_at.get((scenario, seed, r.generation))), r.generation)
            for r in cell_rows
        ]
        # MLflow's limits per batch: 100 params, 1000 metrics.
        for start in range(0, len(params), 100):
            client.log_batch(created.info.run_id, params=params[start : start + 100])
        for start in range(0, len(metrics), 1000):
            client.log_batch(created.info.run_id, metrics=metrics[start : start + 1000])
        client.set_terminated(created.info.run_id)
    return uri


def export_run(fmt: str, out: Path, run: RunRow, rows: Sequence[MetricRow], finished_at: FinishTimes) -> str:
    """Export ``run`` (its ``runs`` row, metric rows and when each generation was stored) to ``out``; return a
    one-line summary."""
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out}: exists and is not a directory")
    cells = len(_cells(rows))
    if fmt == "tensorboard":
        export_tensorboard(out, run, rows)
        return f"run {run.run_id}: {cells} cell(s), {len(rows)} points -> TensorBoard logs in {out}"
    if fmt == "mlflow":
        uri = export_mlflow(out, run, rows, finished_at)
        return f"run {run.run_id}: {cells} cell(s), {len(rows)} points -> MLflow {uri}"
    raise ExportError(f"unknown export format {fmt!r}")
