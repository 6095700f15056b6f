"""The leaderboard: one row per scenario, bootstrap confidence intervals over seeds, paired differences.

A suite runs several scenarios (one "method" each: a regime or a mitigation) for several seeds and G
generations. Each (scenario, seed) gives one curve per metric over generations 0..G-1, where generation 0 is
the model trained on real data. The leaderboard summarizes every curve by two numbers per seed:

- the **final** value, at the last generation every seed of the scenario reached, and
- the **AUC**, the normalized area under the curve (:func:`area_under_curve`),

then reports the mean over seeds with a percentile-bootstrap confidence interval (:func:`bootstrap_ci`), and
the **paired** difference against a baseline scenario: per shared seed, scenario minus baseline, then
bootstrapped. Pairing removes the between-seed variance both scenarios share (same real data, same seed).

The default ranking is by final-generation ``diversity_levenshtein``: diversity is the quantity that
collapses in a self-consuming loop (correctness tends to *rise*, so ranking by it would reward collapse), and
the final generation is where the difference between mitigations shows.

This module is pure: it takes :class:`MetricRow` tuples (what the store reads from DuckDB) and returns plain
dicts and strings. It never touches the database.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import numpy as np

DEFAULT_METRICS: tuple[str, ...] = ("diversity_levenshtein", "correct", "unique_ratio")
DEFAULT_PRIMARY = "diversity_levenshtein"
# Preferred baselines, in order: an explicit "baseline" scenario, else the paper's full-synthetic regime.
BASELINE_NAMES: tuple[str, ...] = ("baseline", "replace")

Format = Literal["table", "md", "csv", "json"]


class MetricRow(NamedTuple):
    """One number of one run: the tidy row of the store's ``metrics`` table."""

    run_id: str
    suite: str
    scenario: str
    seed: int
    generation: int
    metric: str
    value: float
    higher_is_better: bool | None


# ----------------------------------------------------------------------------------------------------------
# Statistics


def bootstrap_ci(
    values: Sequence[float], confidence: float = 0.95, resamples: int = 10_000, seed: int = 0
) -> tuple[float, float, float]:
    """Mean of ``values`` and a percentile-bootstrap confidence interval of that mean: ``(mean, low, high)``.

    ``values`` are one number per seed. We draw ``resamples`` resamples of the same size with replacement
    (all at once, as one index matrix, from ``numpy.random.default_rng(seed)``) and take the
    ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles of their means. One value, or identical
    values, give a zero-width interval ``(v, v, v)``. With few seeds the percentile interval is narrower than
    it should be (it cannot see beyond the observed values); it is a summary, not a significance test.
    """
    arr = np.asarray(values, dtype=np.float64).ravel()
    if arr.size == 0:
        raise ValueError("bootstrap_ci needs at least one value")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"bootstrap_ci needs finite values, got {arr.tolist()}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples}")
    mean = float(arr.mean())
    if np.all(arr == arr[0]):
        # Exact, without float noise from averaging: no spread means no uncertainty to resample.
        v = float(arr[0])
        return v, v, v
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, arr.size, size=(resamples, arr.size))
    means = arr[idx].mean(axis=1)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    # Quantiles of resampled means can miss the sample mean by float rounding only; keep low <= mean <= high.
    return mean, float(min(low, mean)), float(max(high, mean))


def area_under_curve(values_by_generation: Sequence[float]) -> float:
    """Normalized area under a metric's curve over generations 0..G-1.

    The trapezoid rule with unit spacing, divided by the number of intervals G-1, so the result is the
    time-average of the curve on the metric's own scale: a constant curve ``c`` gives ``c``, ``[0, 1]`` gives
    0.5 and ``[1, 0, 0]`` gives 0.25. A single generation gives its value. It rewards keeping a metric high
    *throughout* the loop, where the final value only sees the end.
    """
    arr = np.asarray(values_by_generation, dtype=np.float64).ravel()
    if arr.size == 0:
        raise ValueError("area_under_curve needs at least one generation")
    if arr.size == 1:
        return float(arr[0])
    area = float(np.sum((arr[1:] + arr[:-1]) / 2.0))
    return area / (arr.size - 1)


# ----------------------------------------------------------------------------------------------------------
# Rows -> per-seed curves


@dataclass(frozen=True)
class ScenarioCurves:
    """Every seed's curve of every metric for one scenario, cut to the generations all its seeds have.

    ``values[metric]`` has shape ``(len(seeds), n_generations)``; row i belongs to ``seeds[i]``.
    """

    scenario: str
    seeds: tuple[int, ...]
    n_generations: int
    values: dict[str, np.ndarray]


def _suggest(name: str, known: Sequence[str]) -> str:
    near = difflib.get_close_matches(name, list(known), n=3, cutoff=0.5)
    hint = f" (did you mean {', '.join(repr(n) for n in near)}?)" if near else ""
    return f"{hint}; known: {', '.join(sorted(known))}"


def collect_curves(rows: Sequence[MetricRow], metrics: Sequence[str]) -> dict[str, ScenarioCurves]:
    """Group ``rows`` into per-scenario, per-seed curves of ``metrics``, scenarios in order of appearance.

    A seed *has* generation g when it has a row for every one of ``metrics`` at g. Per scenario we keep the
    generations 0..n-1 that every seed has (an interrupted seed shortens the whole scenario, so that means
    over seeds always average the same seeds), and report n as ``n_generations``.

    Raises ``ValueError`` for no rows, a metric no row carries, a non-finite value, or two rows for the
    same (scenario, seed, generation, metric) with different values (e.g. two runs of one suite: filter
    the rows to one run per scenario first).
    """
    if not rows:
        raise ValueError("no metric rows: nothing to rank (has the suite run?)")
    known = sorted({r.metric for r in rows})
    for m in metrics:
        if m not in known:
            raise ValueError(f"unknown metric {m!r}{_suggest(m, known)}")
    wanted = set(metrics)
    table: dict[tuple[str, int, int, str], float] = {}
    order: dict[str, None] = {}  # an ordered set of scenario names
    for r in rows:
        order.setdefault(r.scenario, None)
        if r.metric not in wanted:
            continue
        value = float(r.value)
        if not math.isfinite(value):
            raise ValueError(f"non-finite value {value} in {r}")
        key = (r.scenario, int(r.seed), int(r.generation), r.metric)
        if key in table and table[key] != value:
            raise ValueError(
                f"two different values for scenario={r.scenario!r} seed={r.seed} generation={r.generation} "
                f"metric={r.metric!r} ({table[key]} and {value}); pass the rows of one run per scenario"
            )
        table[key] = value

    present: dict[tuple[str, int], dict[int, set[str]]] = {}
    for scenario, seed, generation, metric in table:
        present.setdefault((scenario, seed), {}).setdefault(generation, set()).add(metric)

    curves: dict[str, ScenarioCurves] = {}
    for scenario in order:
        seeds = sorted(seed for (s, seed) in present if s == scenario)
        n = _common_prefix([{g for g, ms in present[(scenario, seed)].items() if ms >= wanted} for seed in seeds])
        values = {
            m: np.array(
                [[table[(scenario, seed, g, m)] for g in range(n)] for seed in seeds], dtype=np.float64
            ).reshape(len(seeds), n)
            for m in metrics
        }
        curves[scenario] = ScenarioCurves(scenario, tuple(seeds), n, values)
    return curves


def _common_prefix(generation_sets: Sequence[set[int]]) -> int:
    """Length n of the run 0..n-1 of generations that every set contains (0 when there are no sets)."""
    if not generation_sets:
        return 0
    common = set.intersection(*generation_sets)
    n = 0
    while n in common:
        n += 1
    return n


# ----------------------------------------------------------------------------------------------------------
# The leaderboard


def _direction(rows: Sequence[MetricRow], metric: str) -> bool:
    """Whether higher is better for ``metric``, from the rows; unspecified counts as higher-is-better."""
    flags = {r.higher_is_better for r in rows if r.metric == metric and r.higher_is_better is not None}
    if len(flags) > 1:
        raise ValueError(f"rows disagree on whether higher is better for metric {metric!r}")
    return flags.pop() if flags else True


def _summaries(matrix: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-seed final value (at generation n-1) and per-seed AUC over generations 0..n-1."""
    finals = matrix[:, n - 1]
    aucs = np.array([area_under_curve(curve[:n]) for curve in matrix])
    return finals, aucs


def _put_ci(row: dict[str, Any], prefix: str, values: np.ndarray | None, confidence: float, seed: int) -> None:
    """Set ``prefix``, ``prefix_ci_low``, ``prefix_ci_high`` in ``row`` (all ``None`` without values)."""
    if values is None or values.size == 0:
        row[prefix] = row[f"{prefix}_ci_low"] = row[f"{prefix}_ci_high"] = None
        return
    mean, low, high = bootstrap_ci(values.tolist(), confidence=confidence, seed=seed)
    row[prefix], row[f"{prefix}_ci_low"], row[f"{prefix}_ci_high"] = mean, low, high


def build_leaderboard(
    rows: Sequence[MetricRow],
    baseline: str | None = None,
    primary: str = DEFAULT_PRIMARY,
    metrics: Sequence[str] = DEFAULT_METRICS,
    confidence: float = 0.95,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """One dict per scenario, best first.

    Keys: ``scenario``, ``n_seeds``, ``n_generations`` (the generations every seed of the scenario finished;
    fewer than the suite's G means an interrupted run), ``baseline`` (the baseline scenario's name),
    ``confidence``, ``n_paired_seeds`` (seeds shared with the baseline; ``None`` on the baseline row), and for
    each metric m: ``{m}_final``, ``{m}_auc`` and their ``_ci_low`` / ``_ci_high`` (mean and bootstrap CI over
    seeds of the per-seed value), and ``{m}_final_diff``, ``{m}_auc_diff`` with their CIs: the mean paired
    difference scenario minus baseline over shared seeds, compared on the generations both reached (the
    shorter horizon, so an interrupted scenario is compared like for like). Diffs are ``None`` on the baseline
    row and where no seed is shared.

    Sorted by ``{primary}_final``: descending when the rows say higher is better for ``primary`` (or say
    nothing), ascending when lower is better; scenarios without data go last, ties keep order of appearance.
    The default primary is final-generation ``diversity_levenshtein``, the quantity that collapses.
    ``primary`` is added to ``metrics`` if missing. ``baseline`` defaults to the scenario named "baseline",
    else "replace", else the first scenario in order of appearance. Every CI uses the same ``seed``.
    """
    if not rows:
        raise ValueError("no metric rows: nothing to rank (has the suite run?)")
    known_metrics = sorted({r.metric for r in rows})
    if primary not in known_metrics:
        raise ValueError(f"unknown primary metric {primary!r}{_suggest(primary, known_metrics)}")
    metrics = list(dict.fromkeys([*metrics, primary]))
    curves = collect_curves(rows, metrics)
    scenarios = list(curves)
    if baseline is None:
        baseline = next((b for b in BASELINE_NAMES if b in curves), scenarios[0])
    elif baseline not in curves:
        raise ValueError(f"unknown baseline scenario {baseline!r}{_suggest(baseline, scenarios)}")
    base = curves[baseline]

    board: list[dict[str, Any]] = []
    for scenario in scenarios:
        cur = curves[scenario]
        is_base = scenario == baseline
        shared = sorted(set(cur.seeds) & set(base.seeds))
        horizon = min(cur.n_generations, base.n_generations)
        paired = not is_base and bool(shared) and horizon > 0
        row: dict[str, Any] = {
            "scenario": scenario,
            "n_seeds": len(cur.seeds),
            "n_generations": cur.n_generations,
            "baseline": baseline,
            "confidence": confidence,
            "n_paired_seeds": None if is_base else len(shared) if paired else 0,
        }
        for m in metrics:
            finals = aucs = None
            if cur.n_generations > 0:
                finals, aucs = _summaries(cur.values[m], cur.n_generations)
            _put_ci(row, f"{m}_final", finals, confidence, seed)
            _put_ci(row, f"{m}_auc", aucs, confidence, seed)
            d_final = d_auc = None
            if paired:
                # Same seeds, same generations: difference per seed first, then bootstrap the differences.
                mine = cur.values[m][[cur.seeds.index(s) for s in shared]]
                theirs = base.values[m][[base.seeds.index(s) for s in shared]]
                f_mine, a_mine = _summaries(mine, horizon)
                f_theirs, a_theirs = _summaries(theirs, horizon)
                d_final, d_auc = f_mine - f_theirs, a_mine - a_theirs
            _put_ci(row, f"{m}_final_diff", d_final, confidence, seed)
            _put_ci(row, f"{m}_auc_diff", d_auc, confidence, seed)
        board.append(row)

    key = f"{primary}_final"
    sign = -1.0 if _direction(rows, primary) else 1.0
    board.sort(key=lambda r: (r[key] is None, sign * r[key] if r[key] is not None else 0.0))
    return board


# ----------------------------------------------------------------------------------------------------------
# Formatting


def format_ci(mean: float | None, low: float | None, high: float | None, signed: bool = False) -> str:
    """``"0.512 [0.480, 0.540]"`` (``signed``: ``"+0.012 [-0.010, +0.030]"``); ``"—"`` when missing."""
    if mean is None or low is None or high is None:
        return "—"
    f = "{:+.3f}" if signed else "{:.3f}"
    return f"{f.format(mean)} [{f.format(low)}, {f.format(high)}]"


def table_cells(
    board: Sequence[dict[str, Any]], metrics: Sequence[str] = DEFAULT_METRICS
) -> tuple[list[str], list[list[str]]]:
    """Headers and string cells shared by the terminal, markdown and HTML tables.

    Per metric: the final value, the AUC, and the paired difference of the final value against the baseline
    (``"baseline"`` in the baseline's own row, ``"—"`` without shared seeds). Every cell is mean [CI].
    """
    headers = ["scenario", "seeds", "gens"]
    for m in metrics:
        headers += [f"{m} final", f"{m} AUC", f"{m} Δ final"]
    body = []
    for r in board:
        cells = [str(r["scenario"]), str(r["n_seeds"]), str(r["n_generations"])]
        for m in metrics:
            cells.append(format_ci(*(r.get(f"{m}_final{s}") for s in ("", "_ci_low", "_ci_high"))))
            cells.append(format_ci(*(r.get(f"{m}_auc{s}") for s in ("", "_ci_low", "_ci_high"))))
            if r["scenario"] == r.get("baseline"):
                cells.append("baseline")
            else:
                parts = (r.get(f"{m}_final_diff{s}") for s in ("", "_ci_low", "_ci_high"))
                cells.append(format_ci(*parts, signed=True))
        body.append(cells)
    return headers, body


def caption(board: Sequence[dict[str, Any]]) -> str:
    """The legend under every rendering of the table: what a cell and each column mean."""
    confidence = board[0].get("confidence", 0.95) if board else 0.95
    baseline = board[0].get("baseline", "the baseline") if board else "the baseline"
    return (
        f"cells: mean over seeds [{confidence:.0%} bootstrap CI]. final: last generation all seeds reached. "
        f"AUC: normalized area under the curve. Δ final: paired difference vs {baseline!r} on shared seeds."
    )


def _rich_table(board: Sequence[dict[str, Any]], metrics: Sequence[str], width: int | None) -> str:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    headers, body = table_cells(board, metrics)
    table = Table(title="collapse bench leaderboard", caption=caption(board), caption_justify="left")
    for i, h in enumerate(headers):
        table.add_column(h.replace(" ", "\n", 1) if i >= 3 else h, justify="left" if i == 0 else "right")
    for cells in body:
        # Text objects, not strings: scenario names and "[low, high]" must not be read as rich markup.
        table.add_row(*(Text(c) for c in cells))
    if width is None:
        # As wide as the table wants, so cells never wrap mid-number; terminals wrap long lines themselves.
        probe = Console(file=io.StringIO(), width=10_000)
        width = probe.measure(table).maximum
    out = io.StringIO()
    Console(file=out, width=width, color_system=None, force_terminal=False, no_color=True).print(table)
    return "\n".join(line.rstrip() for line in out.getvalue().splitlines()) + "\n"


def _md_escape(cell: str) -> str:
    return cell.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _markdown(board: Sequence[dict[str, Any]], metrics: Sequence[str]) -> str:
    headers, body = table_cells(board, metrics)
    lines = ["| " + " | ".join(_md_escape(h) for h in headers) + " |"]
    lines.append("|" + "|".join([":---"] + ["---:"] * (len(headers) - 1)) + "|")
    lines += ["| " + " | ".join(_md_escape(c) for c in cells) + " |" for cells in body]
    return "\n".join(lines) + "\n\n" + caption(board) + "\n"


def _csv(board: Sequence[dict[str, Any]]) -> str:
    fields = list(dict.fromkeys(k for r in board for k in r))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for r in board:
        # repr-exact floats (csv writes repr); None becomes an empty field.
        writer.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in fields})
    return out.getvalue()


def format_leaderboard(
    board: list[dict[str, Any]],
    fmt: Format,
    metrics: Sequence[str] = DEFAULT_METRICS,
    width: int | None = None,
) -> str:
    """Render a board from :func:`build_leaderboard`.

    ``"table"``: a rich terminal table (plain text, no colour codes; ``width`` defaults to the table's own
    width); ``"md"``: a GitHub markdown table with the same cells and a caption; ``"csv"``: every key of
    every row, with a header row; ``"json"``: the list of row dicts, every CI field, floats unrounded.
    ``metrics`` picks the columns of "table" and "md" (metrics missing from the board show "—").
    """
    if fmt == "table":
        return _rich_table(board, metrics, width)
    if fmt == "md":
        return _markdown(board, metrics)
    if fmt == "csv":
        return _csv(board)
    if fmt == "json":
        return json.dumps(board, indent=2, allow_nan=False) + "\n"
    raise ValueError(f"unknown format {fmt!r}; known: table, md, csv, json")
