"""The report: matplotlib figures of a run and one static HTML page (a Jinja2 template) that shows them.

Figures (each as PNG for the page, SVG and PDF for papers, written next to ``index.html``):

- ``verdicts``: the reference study's stacked bars of correct / incorrect / invalid share per generation, one panel
  per scenario, mean over seeds (only for tasks with verdicts);
- ``diversity``, ``unique_ratio``, ``correct``, ``val_loss``, …: the metric vs generation, one thick line per
  scenario (mean over seeds) with a shaded confidence band over seeds (``bench.analysis.stats.interval``) and a thin
  line per seed, so "2 of 3 seeds collapsed" is visible; y-limits fitted to the data;
- ``composition``: the data set's real / fresh / synthetic shares per generation, one panel per scenario;
- ``drops``: how many samples each mitigation dropped per generation, by reason (only when something was dropped);
- per-task extra figures, registered with :func:`bench.report.hooks.task_figure` (e.g. a text task's histogram).

Scenarios appear in leaderboard order everywhere (legends, panels, samples). Like the leaderboard, every figure
shows per scenario only the generations every seed finished (:func:`bench.analysis.leaderboard.collect_curves`).
Rendering uses the Agg backend through the object-oriented API (no pyplot, no global state, no display) with fixed
metadata, so the same results give the same bytes. The page is rendered with autoescaping on: samples are model output.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib
import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

import bench.report.text_figures  # noqa: F401  (registers the text task's figures with @task_figure)
from bench.analysis.bounded import metric_interval
from bench.analysis.leaderboard import (
    DEFAULT_METRICS,
    BoardRow,
    ScenarioCurves,
    build_leaderboard,
    caption,
    collect_curves,
    table_cells,
)
from bench.analysis.summary import summary_lines
from bench.metrics import METRICS
from bench.records import MetricRow
from bench.report.hooks import TASK_FIGURES, FigureContext
from bench.report.html import page_environment
from bench.report.inputs import Drop, ReportInputs
from bench.report.outdir import OutputDir
from bench.report.samples import write_cell_pages
from bench.safe_io import write_atomic

if TYPE_CHECKING:
    from bench.store.database import Store

VERDICTS: tuple[str, ...] = ("correct", "incorrect", "invalid")
# Green / orange / red-ish, readable for the common red-green colour deficiencies (Okabe-Ito inspired).
VERDICT_COLORS: dict[str, str] = {"correct": "#2ca25f", "incorrect": "#f39c12", "invalid": "#d7301f"}
# One palette per meaning: verdicts are green/orange/red (above), data origins blues and a purple (never a verdict
# colour), scenarios tab10 (line figures), mitigation drop reasons greys unless the reason is a verdict.
ORIGINS: tuple[tuple[str, str, str], ...] = (
    ("data_real_share", "real", "#08519c"),
    ("data_fresh_share", "fresh", "#6baed6"),
    ("data_synthetic_share", "synthetic", "#807dba"),
)
REASON_GREYS: tuple[str, ...] = ("#636363", "#969696", "#bdbdbd", "#252525")
# Above this many scenarios a line figure with bands gets one panel per scenario (small multiples).
MAX_OVERLAID = 4
# From this many seeds a line figure draws confidence bands; below, only the per-seed lines.
BAND_MIN_SEEDS = 3
# (metric, file stem, axis label) of the line figures.
LINE_FIGURES: tuple[tuple[str, str, str], ...] = (
    ("diversity_levenshtein", "diversity", "diversity (mean normalized Levenshtein distance)"),
    ("unique_ratio", "unique_ratio", "unique samples / all samples"),
    ("correct", "correct", "share of correct samples"),
    ("real_nll", "real_nll", "NLL per token of the held-out real test set"),
    ("val_loss", "val_loss", "best validation loss of the generation's fit"),
    ("semantic_unique", "semantic_unique", "distinct meanings among correct samples"),
    ("semantic_entropy", "semantic_entropy", "entropy of meanings among correct samples (bits)"),
)
FORMATS: tuple[str, ...] = ("png", "svg", "pdf")
DPI = 120
# No software version, timestamp or random ids in the files: identical rows give identical bytes.
METADATA: dict[str, dict[str, Any]] = {
    "png": {"Software": None},
    "svg": {"Date": None, "Creator": None},
    "pdf": {"CreationDate": None, "Creator": None, "Producer": None},
}
PAGE = "index.html"
RESULTS_JSON = "results.json"


@dataclass(frozen=True)
class FigureEntry:
    """One figure on the page: its file stem (``stem.png`` / ``.svg`` / ``.pdf``) and its caption."""

    stem: str
    caption: str


def _scenario_colors(scenarios: Sequence[str]) -> dict[str, Any]:
    """One stable colour per scenario (leaderboard order), the same in every figure."""
    palette = colormaps["tab10"].colors if len(scenarios) <= 10 else colormaps["tab20"].colors
    return {s: palette[i % len(palette)] for i, s in enumerate(scenarios)}


def _ordered(curves: dict[str, ScenarioCurves], order: Sequence[str] | None) -> list[str]:
    """Scenarios in ``order`` (the leaderboard's) first, then any others in order of appearance."""
    first = [s for s in (order or []) if s in curves]
    return first + [s for s in curves if s not in first]


def _generation_ticks(ax: Any, n_generations: int) -> None:
    """Integer generation ticks: every generation when there are few, else matplotlib's integer choice."""
    if n_generations <= 12:
        ax.set_xticks(range(n_generations))
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _seeds(n: int) -> str:
    return f"{n} seed" if n == 1 else f"{n} seeds"


def render(fig: Figure, fmt: str) -> bytes:
    """The figure's bytes in ``fmt`` (fixed metadata; SVG ids from a fixed salt)."""
    FigureCanvasAgg(fig)  # attach an Agg canvas: no pyplot, no GUI backend
    buffer = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": "collapse-bench", "pdf.compression": 6}):
        fig.savefig(buffer, format=fmt, dpi=DPI, metadata=METADATA[fmt])
    return buffer.getvalue()


def _save(fig: Figure, path: Path | OutputDir, stem: str | None = None, formats: Sequence[str] = FORMATS) -> list[Path]:
    """Write ``fig`` as PNG, SVG and PDF; ``path`` is a ``.png`` path or an output directory plus ``stem``."""
    written = []
    for i, fmt in enumerate(formats):
        data = render(fig, fmt)
        if i == 0:
            fig.set_layout_engine("none")  # keep the first render's layout: constrained layout is the slow part
        if isinstance(path, OutputDir):
            written.append(path.write(f"{stem}.{fmt}", data))
        else:
            written.append(write_atomic(path.with_suffix(f".{fmt}"), data))
    fig.clear()
    return written


def _panels(n: int, width: float = 4.6, height: float = 3.3) -> tuple[Figure, np.ndarray, int]:
    ncols = min(3, max(n, 1))
    nrows = math.ceil(max(n, 1) / ncols)
    fig = Figure(figsize=(width * ncols, height * nrows + 0.9), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols, sharey=True, squeeze=False)).ravel()
    return fig, axes, ncols


def _stacked_shares_figure(
    curves: dict[str, ScenarioCurves],
    order: Sequence[str] | None,
    layers: Sequence[tuple[str, str, Any]],
    ylabel: str,
    title: str,
) -> Figure:
    """Stacked bars of shares per generation, one panel per scenario (mean over seeds); ``layers`` are
    (metric, legend label, colour) from the bottom up, and a metric a run lacks counts as zero."""
    scenarios = [s for s in _ordered(curves, order) if curves[s].n_generations > 0]
    fig, axes, ncols = _panels(len(scenarios))
    max_gens = max((curves[s].n_generations for s in scenarios), default=1)
    for ax, scenario in zip(axes, scenarios, strict=False):
        c = curves[scenario]
        gens = np.arange(c.n_generations)
        bottom = np.zeros(c.n_generations)
        for metric, label, color in layers:
            share = c.values[metric].mean(axis=0) if metric in c.values else np.zeros(c.n_generations)
            ax.bar(gens, share, bottom=bottom, width=0.85, color=color, label=label)
            bottom += share
        ax.set_title(f"{scenario}  ({_seeds(len(c.seeds))})", fontsize=11)
        ax.set_ylim(0, 1)
        ax.set_xlim(-0.6, max_gens - 0.4)
        _generation_ticks(ax, max_gens)
        ax.set_xlabel("generation")
        ax.grid(axis="y", alpha=0.3)
        ax.set_axisbelow(True)
    for ax in axes[: len(scenarios) : ncols]:
        ax.set_ylabel(ylabel)
    for ax in axes[len(scenarios) :]:
        ax.set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=len(layers), frameon=False)
    fig.suptitle(title, fontsize=13)
    return fig


def verdicts_figure(curves: dict[str, ScenarioCurves], order: Sequence[str] | None = None) -> Figure:
    """Stacked bars of the verdict shares per generation, one panel per scenario (mean over seeds)."""
    layers = [(label, label, VERDICT_COLORS[label]) for label in VERDICTS]
    return _stacked_shares_figure(
        curves, order, layers, "share of samples", "Verdicts per generation (mean over seeds)"
    )


def plot_verdicts(curves: dict[str, ScenarioCurves], path: Path, order: Sequence[str] | None = None) -> Path:
    """:func:`verdicts_figure` written as PNG (and SVG, PDF) at ``path``; returns the PNG path."""
    return _save(verdicts_figure(curves, order), path)[0]


def composition_figure(curves: dict[str, ScenarioCurves], order: Sequence[str] | None = None) -> Figure:
    """Stacked bars of the training data's origins per generation, one panel per scenario (mean over seeds); the
    legend lists only the origins some generation actually used."""
    used = [
        layer
        for layer in ORIGINS
        if any(layer[0] in c.values and np.any(c.values[layer[0]] > 0) for c in curves.values())
    ]
    return _stacked_shares_figure(
        curves,
        order,
        used or ORIGINS[:1],
        "share of the training data",
        "Training data by origin per generation (mean over seeds)",
    )


def drops_figure(drops: Sequence[Drop], seeds: dict[str, int], order: Sequence[str]) -> Figure:
    """Samples dropped per generation by each mitigation reason, one panel per scenario (mean over seeds).

    ``seeds`` gives each scenario's seed count: a generation without a drop row dropped nothing.
    """
    scenarios = [s for s in order if any(d.scenario == s for d in drops)]
    reasons = sorted({d.reason for d in drops})

    # A reason named after a verdict ("verifier_filter:incorrect") takes that verdict's colour; others are greys.
    def verdict(reason: str) -> str:
        return reason.rsplit(":", 1)[-1]

    others = [r for r in reasons if verdict(r) not in VERDICT_COLORS]
    colors = {r: VERDICT_COLORS.get(verdict(r)) or REASON_GREYS[others.index(r) % len(REASON_GREYS)] for r in reasons}
    fig, axes, ncols = _panels(len(scenarios))
    max_gen = max((d.generation for d in drops), default=0) + 1
    for ax, scenario in zip(axes, scenarios, strict=False):
        n_seeds = max(seeds.get(scenario, 1), 1)
        bottom = np.zeros(max_gen)
        for reason in reasons:
            total = np.zeros(max_gen)
            for d in drops:
                if d.scenario == scenario and d.reason == reason:
                    total[d.generation] += d.count
            mean = total / n_seeds
            ax.bar(np.arange(max_gen), mean, bottom=bottom, width=0.85, color=colors[reason], label=reason)
            bottom += mean
        ax.set_title(f"{scenario}  ({_seeds(n_seeds)})", fontsize=11)
        ax.set_xlim(-0.6, max_gen - 0.4)
        _generation_ticks(ax, max_gen)
        ax.set_xlabel("generation")
        ax.grid(axis="y", alpha=0.3)
        ax.set_axisbelow(True)
    for ax in axes[: len(scenarios) : ncols]:
        ax.set_ylabel("samples dropped (mean over seeds)")
    for ax in axes[len(scenarios) :]:
        ax.set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=min(len(reasons), 4), frameon=False)
    fig.suptitle("Samples dropped by mitigations per generation", fontsize=13)
    return fig


def fitted_limits(values: Sequence[float], bounds: tuple[float, float] | None = None) -> tuple[float, float]:
    """Y-limits around the data with a 6% margin (never a zero-height axis), clipped to ``bounds`` if given."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return (0.0, 1.0) if bounds is None else bounds
    low, high = min(finite), max(finite)
    span = high - low
    pad = 0.06 * span if span > 0 else max(abs(high) * 0.05, 0.01)
    low, high = low - pad, high + pad
    if bounds is not None:
        low, high = max(low, bounds[0] - 0.01 * (bounds[1] - bounds[0])), min(high, bounds[1] * 1.01)
    return low, high


def _is_share(metric: str) -> bool:
    return metric in VERDICTS or metric in ("unique_ratio", "kept_share") or metric.startswith(("diversity", "data_"))


def _draw_scenario(
    ax: Any, c: ScenarioCurves, metric: str, color: Any, confidence: float, seed: int, ci: str, label: str | None
) -> list[float]:
    """One scenario's lines on ``ax``: below :data:`BAND_MIN_SEEDS` seeds the per-seed lines and their mean, no
    band (a 1- or 2-degree-of-freedom t band says nothing and hides the lines); from there also a light band,
    drawn under the lines. Returns the values drawn (for the y-limits)."""
    per_seed = c.values[metric]
    gens = np.arange(c.n_generations)
    means = per_seed.mean(axis=0)
    n = len(c.seeds)
    if n >= BAND_MIN_SEEDS:
        estimates = [
            metric_interval(metric, col.tolist(), confidence=confidence, method=ci, seed=seed) for col in per_seed.T
        ]
        low = [e.mean if e.low is None else e.low for e in estimates]
        high = [e.mean if e.high is None else e.high for e in estimates]
        ax.fill_between(gens, low, high, color=color, alpha=0.12, linewidth=0, zorder=1)
    if n > 1:
        for curve in per_seed:
            style = "--" if n < BAND_MIN_SEEDS else "-"
            ax.plot(gens, curve, color=color, linewidth=1.0, alpha=0.6, linestyle=style, zorder=2)
    marker = "o" if c.n_generations <= 30 else None
    ax.plot(gens, means, color=color, marker=marker, markersize=3.5, linewidth=2.0, label=label, zorder=3)
    return per_seed.ravel().tolist() + means.tolist()


def _line_title(metric: str, curves: Sequence[ScenarioCurves], confidence: float) -> str:
    seeds = min((len(c.seeds) for c in curves), default=1)
    if seeds >= BAND_MIN_SEEDS:
        return f"{metric} per generation (thick: mean over seeds; band: {confidence:.0%} CI; thin: each seed)"
    if seeds > 1:
        return f"{metric} per generation (thick: mean; dashed: each seed; no band below {BAND_MIN_SEEDS} seeds)"
    return f"{metric} per generation (one seed: no interval)"


def metric_figure(
    curves: dict[str, ScenarioCurves],
    metric: str,
    ylabel: str,
    confidence: float = 0.95,
    seed: int = 0,
    ci: str = "auto",
    order: Sequence[str] | None = None,
) -> Figure:
    """``metric`` vs generation: per scenario its mean line and a line per seed, and from
    :data:`BAND_MIN_SEEDS` seeds a light confidence band (on the logit scale for [0, 1] metrics,
    bench.analysis.bounded). More than :data:`MAX_OVERLAID` scenarios with bands get one panel each (small multiples,
    shared axes)."""
    scenarios = _ordered(curves, order)
    colors = _scenario_colors(scenarios)
    drawn = [s for s in scenarios if curves[s].n_generations > 0 and metric in curves[s].values]
    banded = any(len(curves[s].seeds) >= BAND_MIN_SEEDS for s in drawn)
    seen: list[float] = []
    title = _line_title(metric, [curves[s] for s in drawn], confidence)
    if banded and len(drawn) > MAX_OVERLAID:
        fig, axes, ncols = _panels(len(drawn))
        for ax, scenario in zip(axes, drawn, strict=False):
            c = curves[scenario]
            seen += _draw_scenario(ax, c, metric, colors[scenario], confidence, seed, ci, None)
            ax.set_title(f"{scenario}  ({_seeds(len(c.seeds))})", fontsize=11)
            ax.set_xlabel("generation")
            _generation_ticks(ax, max((curves[s].n_generations for s in drawn), default=1))
            ax.grid(alpha=0.3)
        for ax in axes[: len(drawn) : ncols]:
            ax.set_ylabel(ylabel)
        for ax in axes[len(drawn) :]:
            ax.set_visible(False)
        axes[0].set_ylim(*fitted_limits(seen, (0.0, 1.0) if _is_share(metric) else None))
        fig.suptitle(title, fontsize=12)
        return fig
    fig = Figure(figsize=(8.0, 4.8), layout="constrained")
    ax = fig.subplots()
    for scenario in drawn:
        c = curves[scenario]
        label = f"{scenario} ({_seeds(len(c.seeds))})"
        seen += _draw_scenario(ax, c, metric, colors[scenario], confidence, seed, ci, label)
    ax.set_title(title, fontsize=11)
    ax.set_xlabel("generation")
    ax.set_ylabel(ylabel)
    _generation_ticks(ax, max((c.n_generations for c in curves.values()), default=1))
    # Fitted to the lines (bands are left out: a few-seed band can be far wider than any value seen).
    ax.set_ylim(*fitted_limits(seen, (0.0, 1.0) if _is_share(metric) else None))
    ax.grid(alpha=0.3)
    if drawn:
        ax.legend(title="scenario (leaderboard order)", loc="best", fontsize=9, title_fontsize=9, framealpha=0.9)
    return fig


def plot_metric(
    curves: dict[str, ScenarioCurves],
    metric: str,
    path: Path,
    ylabel: str,
    confidence: float = 0.95,
    seed: int = 0,
    ci: str = "auto",
    order: Sequence[str] | None = None,
) -> Path:
    """:func:`metric_figure` written as PNG (and SVG, PDF) at ``path``; returns the PNG path."""
    fig = metric_figure(curves, metric, ylabel, confidence=confidence, seed=seed, ci=ci, order=order)
    return _save(fig, path)[0]


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


def run_header(run: dict[str, Any] | None, suite_name: str, config: dict[str, Any] | None) -> list[tuple[str, str]]:
    """(label, value) pairs for the page's header; what the store does not know is shown as unknown."""
    run = run or {}
    config = config or {}
    seeds = config.get("seeds")
    header = [
        ("run", str(run.get("run_id") or "—")),
        ("suite", suite_name),
        ("status", str(run.get("status") or "—")),
        ("commit", _short(run.get("git_commit"))),
        ("device", str(run.get("device") or "unknown")),
        ("started", _when(run.get("started_at"))),
        ("finished", _when(run.get("finished_at"))),
        ("seeds", ", ".join(str(s) for s in seeds) if isinstance(seeds, list) else "—"),
        ("generations", str(config.get("generations", "—"))),
    ]
    packages = run.get("packages")
    if isinstance(packages, str):
        packages = json.loads(packages)
    if isinstance(packages, dict) and packages:
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
    run: dict[str, Any] | None = None,
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
    run: dict[str, Any] | None = None,
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
        written.extend(_save(fig, out, stem, formats))
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
    context = FigureContext(rows=rows, inputs=inputs, order=order, colors=_scenario_colors(order))
    for task in _tasks(resolved_config):
        for draw in TASK_FIGURES.get(task, []):
            for stem, fig, text in draw(context):
                add(stem, fig, text)

    cell_pages: list[tuple[str, int, str]] = []
    if store is not None and run and run.get("run_id"):
        cell_pages, pages = write_cell_pages(out, store, str(run["run_id"]), order, VERDICT_COLORS)
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
