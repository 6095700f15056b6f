"""The report's figures: matplotlib drawings of a run's curves, saved as PNG, SVG and PDF with fixed metadata.

- ``verdicts``: the reference study's stacked bars of correct / incorrect / invalid share per generation, one panel
  per scenario, mean over seeds (only for tasks with verdicts);
- ``diversity``, ``unique_ratio``, ``correct``, ``val_loss``, …: the metric vs generation, one thick line per
  scenario (mean over seeds) with a shaded confidence band over seeds (``bench.analysis.stats.interval``) and a thin
  line per seed, so "2 of 3 seeds collapsed" is visible; y-limits fitted to the data;
- ``composition``: the data set's real / fresh / synthetic shares per generation, one panel per scenario;
- ``drops``: how many samples each mitigation dropped per generation, by reason (only when something was dropped).

Rendering uses the Agg backend through the object-oriented API (no pyplot, no global state, no display) with fixed
metadata, so the same results give the same bytes.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib
import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from bench.analysis.bounded import metric_interval
from bench.analysis.leaderboard import (
    ScenarioCurves,
)
from bench.report.inputs import Drop
from bench.report.outdir import OutputDir
from bench.safe_io import write_atomic

if TYPE_CHECKING:
    pass

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


def scenario_colors(scenarios: Sequence[str]) -> dict[str, Any]:
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


def save_figure(
    fig: Figure, path: Path | OutputDir, stem: str | None = None, formats: Sequence[str] = FORMATS
) -> list[Path]:
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
    colors = scenario_colors(scenarios)
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
    return save_figure(fig, path)[0]
