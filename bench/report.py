"""The report: matplotlib figures of a suite's metric rows and one static HTML page that shows them.

Figures (PNG, written next to ``index.html``):

- ``verdicts.png``: the reference study's stacked bars of correct / incorrect / invalid share per generation,
  one panel per scenario, mean over seeds;
- ``diversity.png``, ``unique_ratio.png``, ``correct.png``: the metric vs generation, one line per scenario
  (mean over seeds) with a shaded confidence band over seeds at each generation (``bench.stats.interval``).

Like the leaderboard, every figure shows per scenario only the generations every seed finished (see
:func:`bench.leaderboard.collect_curves`), so a mean never mixes different sets of seeds. Rendering uses
the Agg backend through the object-oriented API (no pyplot, so no global state and no display), and fixed
PNG metadata, so the same rows give the same bytes.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from bench.leaderboard import (
    DEFAULT_METRICS,
    BoardRow,
    ScenarioCurves,
    build_leaderboard,
    caption,
    collect_curves,
    table_cells,
)
from bench.records import MetricRow
from bench.stats import interval

VERDICTS: tuple[str, ...] = ("correct", "incorrect", "invalid")
# Green / orange / red-ish, readable for the common red-green colour deficiencies (Okabe-Ito inspired).
VERDICT_COLORS: dict[str, str] = {"correct": "#2ca25f", "incorrect": "#f39c12", "invalid": "#d7301f"}
# (metric, file name, axis label) of the line figures.
LINE_FIGURES: tuple[tuple[str, str, str], ...] = (
    ("diversity_levenshtein", "diversity.png", "diversity (mean normalized Levenshtein distance)"),
    ("unique_ratio", "unique_ratio.png", "unique samples / all samples"),
    ("correct", "correct.png", "share of correct samples"),
    ("real_nll", "real_nll.png", "NLL per token of the held-out real test set"),
    ("semantic_unique", "semantic_unique.png", "distinct meanings among correct samples"),
    ("semantic_entropy", "semantic_entropy.png", "entropy of meanings among correct samples (bits)"),
)
DPI = 120
# No software version or timestamp in the PNG: identical rows give identical files across matplotlib builds.
PNG_METADATA: dict[str, Any] = {"Software": None}


def _scenario_colors(scenarios: Sequence[str]) -> dict[str, Any]:
    """One stable colour per scenario (order of appearance), the same in every figure."""
    palette = colormaps["tab10"].colors if len(scenarios) <= 10 else colormaps["tab20"].colors
    return {s: palette[i % len(palette)] for i, s in enumerate(scenarios)}


def _generation_ticks(ax: Any, n_generations: int) -> None:
    """Integer generation ticks: every generation when there are few, else matplotlib's integer choice."""
    if n_generations <= 12:
        ax.set_xticks(range(n_generations))
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _seeds(n: int) -> str:
    return f"{n} seed" if n == 1 else f"{n} seeds"


def _save(fig: Figure, path: Path) -> Path:
    FigureCanvasAgg(fig)  # attach an Agg canvas: no pyplot, no GUI backend
    fig.savefig(path, dpi=DPI, metadata=PNG_METADATA)
    fig.clear()
    return path


def plot_verdicts(curves: dict[str, ScenarioCurves], path: Path) -> Path:
    """Stacked bars of the verdict shares per generation, one panel per scenario (mean over seeds)."""
    scenarios = [s for s, c in curves.items() if c.n_generations > 0]
    n = max(len(scenarios), 1)
    ncols = min(3, n)
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(4.6 * ncols, 3.3 * nrows + 0.9), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols, sharey=True, squeeze=False)).ravel()
    max_gens = max((curves[s].n_generations for s in scenarios), default=1)
    for ax, scenario in zip(axes, scenarios, strict=False):
        c = curves[scenario]
        gens = np.arange(c.n_generations)
        bottom = np.zeros(c.n_generations)
        for label in VERDICTS:
            share = c.values[label].mean(axis=0)
            ax.bar(gens, share, bottom=bottom, width=0.85, color=VERDICT_COLORS[label], label=label)
            bottom += share
        ax.set_title(f"{scenario}  ({_seeds(len(c.seeds))})", fontsize=11)
        ax.set_ylim(0, 1)
        ax.set_xlim(-0.6, max_gens - 0.4)
        _generation_ticks(ax, max_gens)
        ax.set_xlabel("generation")
        ax.grid(axis="y", alpha=0.3)
        ax.set_axisbelow(True)
    for ax in axes[: len(scenarios) : ncols]:
        ax.set_ylabel("share of samples")
    for ax in axes[len(scenarios) :]:
        ax.set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=len(VERDICTS), frameon=False)
    fig.suptitle("Verdicts per generation (mean over seeds)", fontsize=13)
    return _save(fig, path)


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


def plot_metric(
    curves: dict[str, ScenarioCurves],
    metric: str,
    path: Path,
    ylabel: str,
    confidence: float = 0.95,
    seed: int = 0,
    ci: str = "auto",
) -> Path:
    """``metric`` vs generation: a line per scenario (mean over seeds), a CI band per generation (bench.stats)."""
    colors = _scenario_colors(list(curves))
    fig = Figure(figsize=(8.0, 4.8), layout="constrained")
    ax = fig.subplots()
    for scenario, c in curves.items():
        if c.n_generations == 0 or metric not in c.values:
            continue
        estimates = [interval(col.tolist(), confidence=confidence, method=ci, seed=seed) for col in c.values[metric].T]
        # One seed has no interval: the band collapses onto the line.
        stats = np.array(
            [(e.mean, e.mean if e.low is None else e.low, e.mean if e.high is None else e.high) for e in estimates]
        )
        gens = np.arange(c.n_generations)
        color = colors[scenario]
        ax.fill_between(gens, stats[:, 1], stats[:, 2], color=color, alpha=0.2, linewidth=0)
        marker = "o" if c.n_generations <= 30 else None
        ax.plot(gens, stats[:, 0], color=color, marker=marker, markersize=3.5, linewidth=1.8, label=scenario)
    ax.set_title(f"{metric} per generation (mean over seeds, {confidence:.0%} CI)", fontsize=12)
    ax.set_xlabel("generation")
    ax.set_ylabel(ylabel)
    _generation_ticks(ax, max((c.n_generations for c in curves.values()), default=1))
    if metric in VERDICTS or metric == "unique_ratio" or metric.startswith("diversity"):
        # Shares in [0, 1]: a fixed scale keeps figures of different suites comparable.
        ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(title="scenario", loc="best", fontsize=9, title_fontsize=9, framealpha=0.9)
    return _save(fig, path)


def _html_table(board: Sequence[BoardRow], metrics: Sequence[str]) -> str:
    headers, body = table_cells(board, metrics)
    # Metric headers on two lines ("diversity_levenshtein" / "Δ final") keep the columns narrow.
    head = "".join(
        f"<th>{'<br>'.join(html.escape(p) for p in (h.split(' ', 1) if i >= 3 else [h]))}</th>"
        for i, h in enumerate(headers)
    )
    rows = "\n".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>" for cells in body)
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{rows}\n</tbody>\n</table>"


_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 1200px;
       padding: 0 1rem; color: #222; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
.note { color: #555; font-size: 0.9rem; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: 0.85rem; font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid #ddd; padding: 0.3rem 0.6rem; text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
thead th { background: #f4f4f4; border-bottom: 2px solid #bbb; }
tbody tr:hover { background: #fafafa; }
figure { margin: 1rem 0; } img { max-width: 100%; height: auto; border: 1px solid #eee; }
pre { background: #f7f7f7; border: 1px solid #e5e5e5; padding: 0.8rem; overflow-x: auto; font-size: 0.8rem; }
"""


def _html_page(
    suite_name: str,
    figures: Sequence[tuple[str, str]],
    board: Sequence[BoardRow],
    metrics: Sequence[str],
    resolved_config: dict[str, Any] | None,
    caption_text: str,
) -> str:
    esc = html.escape
    title = f"collapse bench report: {suite_name}"
    figs = "\n".join(
        f'<figure><img src="{esc(name)}" alt="{esc(alt)}"><figcaption class="note">{esc(alt)}</figcaption></figure>'
        for name, alt in figures
    )
    if resolved_config is None:
        config = "(no resolved config recorded)"
    else:
        config = json.dumps(resolved_config, indent=2, sort_keys=True, default=str)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)}</title>
<style>{_CSS}</style>
</head>
<body>
<h1>{esc(title)}</h1>
<p class="note">Self-consuming training loop: generation 0 trains on real data, each later generation on data
that includes the previous generation's samples.</p>
<h2>Leaderboard</h2>
<div class="scroll">
{_html_table(board, metrics)}
</div>
<p class="note">{esc(caption_text)}</p>
<h2>Figures</h2>
{figs}
<h2>Resolved configuration</h2>
<pre>{esc(config)}</pre>
</body>
</html>
"""


def write_report(
    rows: Sequence[MetricRow],
    out_dir: Path,
    suite_name: str,
    resolved_config: dict[str, Any] | None,
    board: list[BoardRow] | None = None,
    confidence: float = 0.95,
    seed: int = 0,
    ci: str = "auto",
    extra_figures: Sequence[Callable[[Path], tuple[Path, str] | None]] = (),
) -> list[Path]:
    """Write the figures and ``index.html`` into ``out_dir`` (created if needed); return the files written.

    ``extra_figures``: functions of ``out_dir`` that draw a figure from data beyond the metric rows (the text task's
    perplexity histograms) and return its path and caption, or ``None`` when they have nothing to draw.

    Figures whose metrics the rows do not carry are skipped (and not linked). ``board`` defaults to
    :func:`bench.leaderboard.build_leaderboard` over the default metrics the rows carry.
    """
    if not rows:
        raise ValueError("no metric rows: nothing to report (has the suite run?)")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    known = {r.metric for r in rows}
    written: list[Path] = []
    figures: list[tuple[str, str]] = []

    if all(v in known for v in VERDICTS):
        written.append(plot_verdicts(collect_curves(rows, VERDICTS), out_dir / "verdicts.png"))
        figures.append(("verdicts.png", "Correct / incorrect / invalid share per generation, per scenario"))
    for metric, name, ylabel in LINE_FIGURES:
        if metric not in known:
            continue
        curves = collect_curves(rows, [metric])
        written.append(plot_metric(curves, metric, out_dir / name, ylabel, confidence=confidence, seed=seed, ci=ci))
        figures.append((name, f"{metric} per generation, {confidence:.0%} CI band over seeds"))

    for draw in extra_figures:
        drawn = draw(out_dir)
        if drawn is not None:
            written.append(drawn[0])
            figures.append((drawn[0].name, drawn[1]))

    metrics = [m for m in DEFAULT_METRICS if m in known] or sorted(known)[:1]
    if board is None:
        board = build_leaderboard(rows, primary=metrics[0], metrics=metrics, confidence=confidence, seed=seed, ci=ci)
    page = _html_page(suite_name, figures, board, metrics, resolved_config, caption(board))
    index = out_dir / "index.html"
    index.write_text(page, encoding="utf-8")
    written.append(index)
    return written
