"""The leaderboard: one row per scenario, honest intervals over seeds, paired tests against a baseline.

A suite runs several scenarios (one "method" each: a regime or a mitigation) for several seeds and G
generations. Each (scenario, seed) gives one curve per metric over generations 0..G-1, where generation 0 is
the model trained on real data. The leaderboard summarizes every curve by two numbers per seed:

- the **final** value, at the last generation every seed of the scenario reached, and
- the **AUC**, the normalized area under the curve (:func:`area_under_curve`),

then reports the mean over seeds with a confidence interval (:func:`bench.analysis.stats.interval`: Student-t below 10
seeds, percentile bootstrap from 10 up, none for one seed), and the **paired** difference against a baseline
scenario: per shared seed, scenario minus baseline, with its interval and an exact sign-flip permutation p-value,
Holm-corrected across the leaderboard's rows. Pairing removes the between-seed variance both scenarios share (same
real data, same seed). Per scenario it also reports "generations until collapse" (first generation with one
distinct output; first generation with ≥ 99% correct) as Kaplan–Meier medians, since most runs never get there.

The default ranking is by final-generation ``diversity_levenshtein``: diversity is the quantity that
collapses in a self-consuming loop (correctness tends to *rise*, so ranking by it would reward collapse), and
the final generation is where the difference between mitigations shows. Directions come from the metric registry.

This module is pure: it takes :class:`bench.records.MetricRow` tuples (what the store reads from DuckDB) and returns
dataclasses. It never touches the database. Its renderings (terminal table, markdown, CSV, JSON) are in
:mod:`bench.analysis.leaderboard_formats`.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from bench.analysis.bounded import metric_interval
from bench.analysis.stats import (
    Interval,
    KMResult,
    holm,
    interval,
    kaplan_meier_median,
    paired_t_pvalue,
    sign_flip_pvalue,
)
from bench.metrics import METRICS
from bench.records import MetricRow

# Metrics a run does not carry are skipped: real_nll needs a learner that scores text, the semantic metrics a task
# with a meaning key.
DEFAULT_METRICS: tuple[str, ...] = (
    "diversity_levenshtein",
    "correct",
    "unique_ratio",
    "real_nll",
    "semantic_unique",
    "semantic_entropy",
    "semantic_novelty",
    "self_bleu",
    "mauve",
)
DEFAULT_PRIMARY = "diversity_levenshtein"
# Preferred baselines, in order: an explicit "baseline" scenario, else the paper's full-synthetic regime.
BASELINE_NAMES: tuple[str, ...] = ("baseline", "replace")

CiMethod = Literal["auto", "t", "bootstrap"]
PairedTest = Literal["sign-flip", "t"]
TEST_NAMES: dict[str, str] = {"sign-flip": "exact sign-flip permutation test", "t": "paired t-test"}

# "Generations until collapse": the first generation at which a seed's curve meets the condition.
COLLAPSE_EVENTS: dict[str, tuple[str, str]] = {
    "one_output": ("unique_count", "first generation with a single distinct sample (unique_count == 1)"),
    "all_correct": ("correct", "first generation with at least 99% correct samples"),
}


def _collapsed(event: str, value: float) -> bool:
    return value <= 1.0 if event == "one_output" else value >= 0.99


# ----------------------------------------------------------------------------------------------------------
# Statistics


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
    undefined: frozenset[str] = frozenset()
    """Metrics the scenario carries but some seed lacks at some kept generation: not in ``values``."""


def _suggest(name: str, known: Sequence[str]) -> str:
    near = difflib.get_close_matches(name, list(known), n=3, cutoff=0.5)
    hint = f" (did you mean {', '.join(repr(n) for n in near)}?)" if near else ""
    return f"{hint}; known: {', '.join(sorted(known))}"


def collect_curves(rows: Sequence[MetricRow], metrics: Sequence[str]) -> dict[str, ScenarioCurves]:
    """Group ``rows`` into per-scenario, per-seed curves of ``metrics``, scenarios in order of appearance.

    A scenario *carries* the metrics of ``metrics`` that any of its rows has (a learner that cannot score held-out text
    has no ``real_nll``; a task without meaning no semantic metrics). A seed *has* generation g when it has any row at
    g, of any metric (a generation's rows are written in one transaction, so that means it finished). Per scenario we
    keep the generations 0..n-1 that every seed has (an interrupted seed shortens the whole scenario, so that means over
    seeds always average the same seeds), and report n as ``n_generations``. A carried metric that some seed lacks at
    some kept generation (one that is undefined there, such as ``semantic_unique_at_k`` with fewer than k correct
    samples) is left out of ``values`` and named in ``undefined``: it must neither shorten the other metrics' curves nor
    be averaged over a changing set of seeds.

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
    # Which generations each seed finished, from all its rows: not from the metrics asked for, one of which may be
    # undefined where the others are not.
    finished: dict[tuple[str, int], set[int]] = {}
    for r in rows:
        order.setdefault(r.scenario, None)
        finished.setdefault((r.scenario, int(r.seed)), set()).add(int(r.generation))
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

    carried: dict[str, set[str]] = {}
    for scenario, _, _, metric in table:
        carried.setdefault(scenario, set()).add(metric)

    curves: dict[str, ScenarioCurves] = {}
    for scenario in order:
        seeds = sorted(seed for (s, seed) in finished if s == scenario)
        mine = carried.get(scenario, set())
        n = _common_prefix([finished[(scenario, seed)] for seed in seeds])
        complete = {m for m in mine if all((scenario, seed, g, m) in table for seed in seeds for g in range(n))}
        values = {
            m: np.array(
                [[table[(scenario, seed, g, m)] for g in range(n)] for seed in seeds], dtype=np.float64
            ).reshape(len(seeds), n)
            for m in metrics
            if m in complete
        }
        curves[scenario] = ScenarioCurves(scenario, tuple(seeds), n, values, frozenset(mine - complete))
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


def direction(rows: Sequence[MetricRow], metric: str) -> bool | None:
    """Whether higher is better for ``metric``: declared in the metric registry.

    A metric of a plugin that is not installed where the results are read falls back to the direction its rows
    recorded, which that plugin's registry declared when they were written.
    """
    if metric in METRICS:
        return METRICS.get(metric).higher_is_better
    flags = {r.higher_is_better for r in rows if r.metric == metric}
    if len(flags) > 1:
        raise ValueError(f"rows disagree on whether higher is better for metric {metric!r}")
    return flags.pop() if flags else None


def _summaries(matrix: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-seed final value (at generation n-1) and per-seed AUC over generations 0..n-1."""
    finals = matrix[:, n - 1]
    aucs = np.array([area_under_curve(curve[:n]) for curve in matrix])
    return finals, aucs


@dataclass(frozen=True)
class Comparison:
    """A paired difference against the baseline: its interval, the paired test's p-value and the Holm-adjusted one.

    ``test`` names the test (``sign-flip`` or ``t``). ``primary`` marks the suite's pre-registered contrast: it is
    left out of the Holm family and reported uncorrected, so ``p_holm`` is ``None`` there. ``p_reported`` is the
    p-value the board shows: ``p_value`` for the primary contrast, ``p_holm`` for every other row.
    """

    difference: Interval
    p_value: float | None
    p_holm: float | None = None
    test: PairedTest = "sign-flip"
    primary: bool = False

    @property
    def p_reported(self) -> float | None:
        return self.p_value if self.primary else self.p_holm


@dataclass
class BoardRow:
    """One scenario of the leaderboard.

    ``estimates[(metric, "final" | "auc")]`` is the mean over seeds with its interval; ``comparisons[(metric,
    "final" | "auc")]`` the paired difference against the baseline (absent on the baseline row and without shared
    seeds); ``collapse[event]`` the Kaplan–Meier median generations until that event (see ``COLLAPSE_EVENTS``).
    """

    scenario: str
    n_seeds: int
    n_generations: int
    baseline: str
    confidence: float
    n_paired_seeds: int | None
    estimates: dict[tuple[str, str], Interval] = field(default_factory=dict)
    comparisons: dict[tuple[str, str], Comparison] = field(default_factory=dict)
    collapse: dict[str, KMResult] = field(default_factory=dict)
    undefined: frozenset[str] = frozenset()
    """Metrics left out because some seed lacks them at some generation (``ScenarioCurves.undefined``)."""
    contrast: tuple[str, str] | None = None
    """The suite's pre-registered primary contrast, as asked for (it may not be computable)."""

    @property
    def is_baseline(self) -> bool:
        return self.scenario == self.baseline

    def value(self, metric: str, summary: str = "final") -> float | None:
        estimate = self.estimates.get((metric, summary))
        return None if estimate is None else estimate.mean

    def to_dict(self) -> dict[str, Any]:
        """Flat JSON-ready fields (``{m}_final``, ``{m}_final_ci_low``, ``{m}_final_diff_p_holm`` ...)."""
        out: dict[str, Any] = {
            "scenario": self.scenario,
            "n_seeds": self.n_seeds,
            "n_generations": self.n_generations,
            "baseline": self.baseline,
            "confidence": self.confidence,
            "n_paired_seeds": self.n_paired_seeds,
        }
        for (metric, summary), est in self.estimates.items():
            key = f"{metric}_{summary}"
            out |= {key: est.mean, f"{key}_ci_low": est.low, f"{key}_ci_high": est.high, f"{key}_ci": est.method}
        for (metric, summary), cmp in self.comparisons.items():
            key = f"{metric}_{summary}_diff"
            d = cmp.difference
            out |= {key: d.mean, f"{key}_ci_low": d.low, f"{key}_ci_high": d.high, f"{key}_ci": d.method}
            out |= {f"{key}_p": cmp.p_value, f"{key}_p_holm": cmp.p_holm, f"{key}_p_reported": cmp.p_reported}
            out |= {f"{key}_test": cmp.test, f"{key}_primary": cmp.primary}
        for event, km in self.collapse.items():
            out |= {f"collapse_{event}_median": km.median, f"collapse_{event}_events": km.events}
        if self.undefined:
            out["undefined_metrics"] = ";".join(sorted(self.undefined))  # one cell in CSV too
        return out


def _collapse_times(curves: np.ndarray, event: str) -> tuple[list[float], list[bool]]:
    """Per seed: the first generation meeting ``event`` (observed), or the last generation seen (censored)."""
    times, observed = [], []
    for curve in curves:
        hits = [g for g, value in enumerate(curve) if _collapsed(event, float(value))]
        times.append(float(hits[0] if hits else len(curve) - 1))
        observed.append(bool(hits))
    return times, observed


def build_leaderboard(
    rows: Sequence[MetricRow],
    baseline: str | None = None,
    primary: str = DEFAULT_PRIMARY,
    metrics: Sequence[str] = DEFAULT_METRICS,
    confidence: float = 0.95,
    seed: int = 0,
    ci: CiMethod = "auto",
    test: PairedTest = "sign-flip",
    contrast: tuple[str, str] | None = None,
) -> list[BoardRow]:
    """One :class:`BoardRow` per scenario, best first (the pre-registered contrast's scenario first of all).

    ``n_generations`` counts the generations every seed of the scenario finished (fewer than the suite's G means an
    interrupted run). Paired differences compare the generations both scenarios reached (the shorter horizon, so an
    interrupted scenario is compared like for like). ``ci`` picks the interval method (``auto``: t below 10 seeds,
    bootstrap from 10). Metrics the rows do not carry are skipped (e.g. ``real_nll`` for a learner that cannot score).

    Sorted by ``{primary}_final``: descending when higher is better (or the metric is descriptive), ascending when
    lower is better; scenarios without data go last, ties keep order of appearance. ``baseline`` defaults to the
    scenario named "baseline", else "replace", else the first scenario in order of appearance.

    ``test`` is the paired test of every difference (``sign-flip``: exact sign-flip permutation test; ``t``: paired
    t-test). ``contrast`` is the suite's pre-registered primary contrast ``(scenario, metric)``: its final-value
    difference is reported uncorrected, and the Holm family of that metric holds the other rows only.
    """
    if not rows:
        raise ValueError("no metric rows: nothing to rank (has the suite run?)")
    known_metrics = sorted({r.metric for r in rows})
    if primary not in known_metrics:
        raise ValueError(f"unknown primary metric {primary!r}{_suggest(primary, known_metrics)}")
    if test not in TEST_NAMES:
        raise ValueError(f"unknown test {test!r}; known: {', '.join(TEST_NAMES)}")
    extra = [contrast[1]] if contrast is not None and contrast[1] in known_metrics else []
    metrics = [m for m in dict.fromkeys([*metrics, primary, *extra]) if m in known_metrics or m == primary]
    paired_test = sign_flip_pvalue if test == "sign-flip" else paired_t_pvalue
    events = {e: m for e, (m, _) in COLLAPSE_EVENTS.items() if m in known_metrics}
    curves = collect_curves(rows, list(dict.fromkeys([*metrics, *events.values()])))
    scenarios = list(curves)
    if baseline is None:
        baseline = next((b for b in BASELINE_NAMES if b in curves), scenarios[0])
    elif baseline not in curves:
        raise ValueError(f"unknown baseline scenario {baseline!r}{_suggest(baseline, scenarios)}")
    base = curves[baseline]

    def estimate(values: np.ndarray, metric: str | None = None) -> Interval:
        # A metric's own mean: [0, 1] metrics get their interval on the logit scale (bench.analysis.bounded).
        if metric is not None:
            return metric_interval(metric, values.tolist(), confidence=confidence, method=ci, seed=seed)
        return interval(values.tolist(), confidence=confidence, method=ci, seed=seed)

    board: list[BoardRow] = []
    for scenario in scenarios:
        cur = curves[scenario]
        is_base = scenario == baseline
        shared = sorted(set(cur.seeds) & set(base.seeds))
        horizon = min(cur.n_generations, base.n_generations)
        paired = not is_base and bool(shared) and horizon > 0
        row = BoardRow(
            scenario=scenario,
            n_seeds=len(cur.seeds),
            n_generations=cur.n_generations,
            baseline=baseline,
            confidence=confidence,
            n_paired_seeds=None if is_base else len(shared) if paired else 0,
            undefined=frozenset(cur.undefined & set(metrics)),
            contrast=contrast,
        )
        for m in metrics:
            if m not in cur.values:
                continue
            if cur.n_generations > 0:
                finals, aucs = _summaries(cur.values[m], cur.n_generations)
                row.estimates[(m, "final")] = estimate(finals, m)
                row.estimates[(m, "auc")] = estimate(aucs, m)
            if paired and m in base.values:
                # Same seeds, same generations: difference per seed first, then the interval and the test.
                mine = cur.values[m][[cur.seeds.index(s) for s in shared]]
                theirs = base.values[m][[base.seeds.index(s) for s in shared]]
                f_mine, a_mine = _summaries(mine, horizon)
                f_theirs, a_theirs = _summaries(theirs, horizon)
                for summary, diff in (("final", f_mine - f_theirs), ("auc", a_mine - a_theirs)):
                    is_primary = contrast == (scenario, m) and summary == "final"
                    row.comparisons[(m, summary)] = Comparison(
                        estimate(diff), paired_test(diff.tolist()), test=test, primary=is_primary
                    )
        if cur.n_generations > 0:
            for event, metric in events.items():
                if metric not in cur.values:
                    continue
                times, observed = _collapse_times(cur.values[metric][:, : cur.n_generations], event)
                row.collapse[event] = kaplan_meier_median(times, observed)
        board.append(row)

    # Holm across the leaderboard's rows, one family per metric and summary; the primary contrast stands apart.
    for m in metrics:
        for summary in ("final", "auc"):
            family = [r for r in board if (m, summary) in r.comparisons and not r.comparisons[(m, summary)].primary]
            adjusted = holm([r.comparisons[(m, summary)].p_value for r in family])
            for r, p in zip(family, adjusted, strict=True):
                c = r.comparisons[(m, summary)]
                r.comparisons[(m, summary)] = Comparison(c.difference, c.p_value, p, c.test, c.primary)

    sign = 1.0 if direction(rows, primary) is False else -1.0
    first = contrast[0] if contrast is not None else None
    board.sort(key=lambda r: (r.scenario != first, r.value(primary) is None, sign * (r.value(primary) or 0.0)))
    return board


def primary_contrast(config: dict[str, Any] | str | None) -> tuple[str, str] | None:
    """The suite's pre-registered ``primary: {scenario, metric}`` from a run's stored config, if it names one."""
    if isinstance(config, str):
        config = json.loads(config)
    primary = (config or {}).get("primary")
    return (primary["scenario"], primary["metric"]) if isinstance(primary, dict) else None


def primary_contrast_row(board: Sequence[BoardRow]) -> tuple[BoardRow, str, Comparison] | None:
    """The row, metric and comparison of the pre-registered primary contrast, if the board has one."""
    for row in board:
        for (metric, summary), cmp in row.comparisons.items():
            if cmp.primary and summary == "final":
                return row, metric, cmp
    return None
