"""The report page: one static HTML page (a Jinja2 template) showing a run's leaderboard, summary and figures.

The figures come from :mod:`bench.report.figures`, plus per-task extra figures registered with
:func:`bench.report.hooks.task_figure` (e.g. a text task's histogram). Scenarios appear in leaderboard order
everywhere (legends, panels, samples). Like the leaderboard, every figure shows per scenario only the generations every
seed finished (:func:`bench.analysis.leaderboard.collect_curves`). The page is rendered with autoescaping on: samples
are model output.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from matplotlib.figure import Figure

import bench.report.text_figures  # noqa: F401  (registers the text task's figures with @task_figure)
from bench.analysis.leaderboard import DEFAULT_METRICS, BoardRow, build_leaderboard, collect_curves
from bench.analysis.leaderboard_formats import caption, table_cells
from bench.analysis.summary import summary_lines
from bench.metrics import METRICS
from bench.records import MetricRow, RunRow
from bench.report.hooks import TASK_FIGURES, FigureContext
from bench.report.html import page_environment
from bench.report.inputs import ReportInputs
from bench.report.outdir import OutputDir
from bench.report.samples import write_cell_pages

if TYPE_CHECKING:
    from bench.store.database import Store

from bench.report.figures import (
    BAND_MIN_SEEDS,
    FORMATS,
    LINE_FIGURES,
    ORIGINS,
    VERDICT_COLORS,
    VERDICTS,
    composition_figure,
    drops_figure,
    metric_figure,
    save_figure,
    scenario_colors,
    verdicts_figure,
)

PAGE = "index.html"
RESULTS_JSON = "results.json"


@dataclass(frozen=True)
class FigureEntry:
    """One figure on the page: its file stem (``stem.png`` / ``.svg`` / ``.pdf``) and its caption."""

    stem: str
    caption: str


# -- the page ---------------------------------------------------------------------------------------------------


def split_cell(cell: str) -> tuple[str, str]:
    """``"0.683 [0.635, 0.731]"`` -> ``("0.683", "[0.635, 0.731]")``: the interval goes on a second, smaller line
    so that the table fits the page."""
    main, sep, rest = cell.partition(" [")
    return (main, "[" + rest) if sep else (cell, "")


def table_groups(board: Sequence[BoardRow], metrics: Sequence[str]) -> dict[str, Any]:
    """The leaderboard's cells with two header rows: a group per metric over its final / AUC / Δ final columns.

    Body cells are (value, interval) pairs (:func:`split_cell`)."""
    headers, cells = table_cells(board, metrics)
    body = [[split_cell(c) for c in row] for row in cells]
    top: list[tuple[str, int, int]] = []  # (label, colspan, rowspan)
    sub: list[str] = []
    i = 0
    while i < len(headers):
        header = headers[i]
        if i < 3:
            top.append((header, 1, 2))
            i += 1
        elif header.startswith("gens to "):
            events = [h.removeprefix("gens to ") for h in headers[i:]]
            top.append(("generations until", len(events), 1))
            sub += events
            break
        else:
            metric = header.rsplit(" ", 1)[0]
            parts = [h.removeprefix(metric + " ") for h in headers[i : i + 3]]
            higher = METRICS.get(metric).higher_is_better if metric in METRICS else None
            better = {True: "higher is better", False: "lower is better"}.get(higher, "descriptive")
            top.append((f"{metric} ({better})", len(parts), 1))
            sub += parts
            i += 3
    return {"top": top, "sub": sub, "body": body}


def _short(value: Any, n: int = 12) -> str:
    return str(value)[:n] if value else "unknown"


def _when(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return str(value) if value else "—"


def run_header(run: RunRow | None, suite_name: str, config: dict[str, Any] | None) -> list[tuple[str, str]]:
    """(label, value) pairs for the page's header; what the store does not know is shown as unknown."""
    config = config or {}
    seeds = config.get("seeds")
    header = [
        ("run", run.run_id if run else "—"),
        ("suite", suite_name),
        ("status", (run.status if run else None) or "—"),
        ("commit", _short(run.git_commit if run else None)),
        ("device", (run.device if run else None) or "unknown"),
        ("started", _when(run.started_at if run else None)),
        ("finished", _when(run.finished_at if run else None)),
        ("seeds", ", ".join(str(s) for s in seeds) if isinstance(seeds, list) else "—"),
        ("generations", str(config.get("generations", "—"))),
    ]
    packages = run.package_versions() if run else {}
    if packages:
        header.append(("versions", ", ".join(f"{k} {v}" for k, v in sorted(packages.items()))))
    return header


def _verdict_class(label: str | None) -> str:
    return f"v-{label}" if label in VERDICT_COLORS else ("v-none" if label is None else "v-other")


def render_page(
    suite_name: str,
    figures: Sequence[FigureEntry],
    board: Sequence[BoardRow],
    metrics: Sequence[str],
    resolved_config: dict[str, Any] | None,
    caption_text: str,
    run: RunRow | None = None,
    inputs: ReportInputs | None = None,
    formats: Sequence[str] = FORMATS[1:],
    summary: Sequence[str] = (),
    cell_pages: Sequence[tuple[str, int, str]] = (),
) -> str:
    """The HTML page (``templates/report.html.j2``); ``formats``: the other formats each figure links to;
    ``summary``: the opening sentences (bench.analysis.summary); ``cell_pages``: (scenario, seed, file) of each cell's
    sample page."""
    inputs = inputs or ReportInputs()
    rank = {row.scenario: i for i, row in enumerate(board)}
    panels = sorted(inputs.samples, key=lambda p: (rank.get(p.scenario, len(rank)), p.scenario, p.generation))
    scenarios: dict[str, list] = {}
    for panel in panels:
        scenarios.setdefault(panel.scenario, []).append(panel)
    config_text = (
        "(no resolved config recorded)"
        if resolved_config is None
        else json.dumps(resolved_config, indent=2, sort_keys=True, default=str)
    )
    return (
        page_environment()
        .get_template("report.html.j2")
        .render(
            title=f"collapse bench report: {suite_name}",
            header=run_header(run, suite_name, resolved_config),
            table=table_groups(board, metrics),
            caption=caption_text,
            figures=figures,
            samples=scenarios,
            verdict_class=_verdict_class,
            verdict_colors=VERDICT_COLORS,
            # Tasks without verdicts (free text) get no verdict legend.
            has_labels=any(s.label for p in panels for s in (*p.frequent, *p.random)),
            config_text=config_text,
            formats=formats,
            summary=list(summary),
            cell_pages={
                scenario: [(seed, name) for s, seed, name in cell_pages if s == scenario]
                for scenario in dict.fromkeys(s for s, _, _ in cell_pages)
            },
        )
    )


def _tasks(config: dict[str, Any] | None) -> list[str]:
    names: dict[str, None] = {}
    for scenario in (config or {}).get("scenarios", []):
        task = scenario.get("task", {}) if isinstance(scenario, dict) else {}
        if isinstance(task, dict) and isinstance(task.get("name"), str):
            names.setdefault(task["name"], None)
    return list(names)


def write_report(
    rows: Sequence[MetricRow],
    out_dir: Path | OutputDir,
    suite_name: str,
    resolved_config: dict[str, Any] | None,
    board: list[BoardRow] | None = None,
    confidence: float = 0.95,
    seed: int = 0,
    ci: str = "auto",
    run: RunRow | None = None,
    inputs: ReportInputs | None = None,
    results: str | None = None,
    force: bool = False,
    formats: Sequence[str] = FORMATS,
    store: Store | None = None,
) -> list[Path]:
    """Write the figures and ``index.html`` into ``out_dir``; return the files written (manifest aside).

    ``out_dir`` is checked first (:class:`bench.report.outdir.OutputDir`: it must hold only files an earlier report
    wrote, unless ``force``). Figures whose metrics the rows do not carry are skipped (and not linked). ``board``
    defaults to :func:`bench.analysis.leaderboard.build_leaderboard` over the default metrics the rows carry; ``run``
    (the store's ``runs`` row) fills the header; ``inputs`` adds the samples and the drop figure; ``results`` (the
    results JSON text) is copied next to the page. ``formats`` starts with ``png`` (the page shows PNGs). With ``store``
    (and ``run``), every cell also gets its own filterable sample page (bench.report.samples).
    """
    if not rows:
        raise ValueError("no metric rows: nothing to report (has the suite run?)")
    out = out_dir if isinstance(out_dir, OutputDir) else OutputDir(out_dir, force=force)
    inputs = inputs or ReportInputs()
    known = {r.metric for r in rows}
    metrics = [m for m in DEFAULT_METRICS if m in known] or sorted(known)[:1]
    if board is None:
        board = build_leaderboard(rows, primary=metrics[0], metrics=metrics, confidence=confidence, seed=seed, ci=ci)
    order = [b.scenario for b in board]
    written: list[Path] = []
    figures: list[FigureEntry] = []

    def add(stem: str, fig: Figure, text: str) -> None:
        written.extend(save_figure(fig, out, stem, formats))
        figures.append(FigureEntry(stem, text))

    if all(v in known for v in VERDICTS):
        add("verdicts", verdicts_figure(collect_curves(rows, VERDICTS), order), "Correct / incorrect / invalid share")
    for metric, stem, ylabel in LINE_FIGURES:
        if metric not in known:
            continue
        curves = collect_curves(rows, [metric])
        fig = metric_figure(curves, metric, ylabel, confidence=confidence, seed=seed, ci=ci, order=order)
        add(
            stem,
            fig,
            f"{metric} per generation: mean over seeds (thick) and each seed; from {BAND_MIN_SEEDS} seeds a "
            f"{confidence:.0%} CI band ([0, 1] metrics: logit scale)",
        )
    present = [m for m, _, _ in ORIGINS if m in known]
    if present:
        text = "Where each generation's training data came from: real data, fresh task samples, model samples"
        add("composition", composition_figure(collect_curves(rows, present), order), text)
    if inputs.drops:
        seeds = {r.scenario: set() for r in rows}
        for r in rows:
            seeds[r.scenario].add(r.seed)
        counts = {s: len(v) for s, v in seeds.items()}
        add("drops", drops_figure(inputs.drops, counts, order), "Samples dropped by mitigations, by reason")
    context = FigureContext(rows=rows, inputs=inputs, order=order, colors=scenario_colors(order))
    for task in _tasks(resolved_config):
        for draw in TASK_FIGURES.get(task, []):
            for stem, fig, text in draw(context):
                add(stem, fig, text)

    cell_pages: list[tuple[str, int, str]] = []
    if store is not None and run is not None:
        cell_pages, pages = write_cell_pages(out, store, run.run_id, order, VERDICT_COLORS)
        written.extend(pages)
    primary = (resolved_config or {}).get("primary")
    page = render_page(
        suite_name,
        figures,
        board,
        metrics,
        resolved_config,
        caption(board),
        run,
        inputs,
        formats=formats[1:],
        summary=summary_lines(board, metrics, primary),
        cell_pages=cell_pages,
    )
    if results is not None:
        written.append(out.write_text(RESULTS_JSON, results))
    written.append(out.write_text(PAGE, page))
    out.close()
    return written
