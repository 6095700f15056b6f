"""The report's opening: per metric, which scenario is best and whether that is more than chance, in words.

HELM opens with "who wins"; this does the same from the leaderboard's own computed rows
(:func:`bench.analysis.leaderboard.build_leaderboard`), so the words never disagree with the table. Per metric with a
direction: the scenario with the best final-generation mean, its paired difference from the baseline with the
interval, and the verdict of the Holm-adjusted sign-flip test at 5%. With n paired seeds that test cannot go below
p = 2/2^n (0.5 at 2 seeds, 0.0625 at 5), so below 6 seeds a closing sentence says that no difference *can* be
significant, instead of leaving the reader to wonder why every p is large. When the suite names a primary
contrast (``primary:``), its sentence comes first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bench.analysis.leaderboard import BoardRow
from bench.analysis.leaderboard_formats import format_interval

ALPHA = 0.05
# The smallest n at which a two-sided exact sign-flip test can reach p < ALPHA: 2/2^n < 0.05 from n = 6.
MIN_SEEDS_FOR_SIGNIFICANCE = 6


def _direction(metric: str) -> bool | None:
    from bench.metrics import METRICS

    return METRICS.get(metric).higher_is_better if metric in METRICS else None


def _better_words(higher: bool) -> str:
    return "higher is better" if higher else "lower is better"


def _significance(row: BoardRow, metric: str) -> str:
    cmp = row.comparisons.get((metric, "final"))
    if cmp is None or cmp.p_holm is None:
        return "no paired seeds to test it against the baseline"
    diff = format_interval(cmp.difference, signed=True)
    verdict = "significant" if cmp.p_holm < ALPHA else "not significant"
    return f"{diff} vs the baseline {row.baseline}: {verdict} (Holm-adjusted sign-flip p = {cmp.p_holm:.2g})"


def seeds_note(board: Sequence[BoardRow]) -> str | None:
    """Said once when too few paired seeds make every test unable to reach significance."""
    paired = [r.n_paired_seeds for r in board if not r.is_baseline and r.n_paired_seeds]
    if not paired or max(paired) >= MIN_SEEDS_FOR_SIGNIFICANCE:
        return None
    n = max(paired)
    return (
        f"With {n} paired seed{'s' if n != 1 else ''} the exact sign-flip test cannot go below p = {2 / 2**n:.2g}, "
        f"so no difference here can be significant at {ALPHA:g}, however large: run at least "
        f"{MIN_SEEDS_FOR_SIGNIFICANCE} seeds to tell."
    )


def metric_sentence(board: Sequence[BoardRow], metric: str) -> str | None:
    """One sentence for ``metric``, or ``None`` when it has no direction or no scenario carries it."""
    higher = _direction(metric)
    rows = [r for r in board if r.value(metric) is not None]
    if higher is None or not rows:
        return None
    best = max(rows, key=lambda r: r.value(metric) if higher else -(r.value(metric) or 0.0))
    value = f"{best.value(metric):.3g}"
    head = f"{metric} ({_better_words(higher)}): "
    if best.is_baseline:
        others = [r for r in rows if not r.is_baseline]
        worse = [r.scenario for r in others if (c := r.comparisons.get((metric, "final"))) and (c.p_holm or 1) < ALPHA]
        tail = (
            f"; significantly worse: {', '.join(worse)}"
            if worse
            else "; no scenario differs significantly from it"
            if others
            else ""
        )
        return f"{head}the baseline {best.scenario} is best (final {value}){tail}."
    return f"{head}{best.scenario} is best (final {value}), {_significance(best, metric)}."


def primary_sentence(board: Sequence[BoardRow], primary: Any) -> str | None:
    """The suite's primary contrast (``primary: {scenario: S, metric: M}``, or a scenario name) in words."""
    if not primary:
        return None
    if isinstance(primary, str):
        spec: Mapping[str, Any] = {"scenario": primary}
    elif isinstance(primary, Mapping):
        spec = primary
    else:
        return None
    scenario = spec.get("scenario") or spec.get("treatment")
    metric = spec.get("metric") or "diversity_levenshtein"
    row = next((r for r in board if r.scenario == scenario), None)
    if row is None or row.value(metric) is None:
        return f"Primary contrast: {scenario} on {metric} — not in these results."
    against = spec.get("against") or spec.get("baseline") or spec.get("control") or row.baseline
    if against != row.baseline:  # the board's tests are against its own baseline: give the means, no test
        other = next((r for r in board if r.scenario == against), None)
        if other is None or other.value(metric) is None:
            return f"Primary contrast: {scenario} vs {against} on {metric} — {against} is not in these results."
        return (
            f"Primary contrast: {scenario} vs {against} on {metric}: final {row.value(metric):.3g} vs "
            f"{other.value(metric):.3g} (tested against {row.baseline} here; `bench leaderboard --baseline {against}` "
            "tests this contrast)."
        )
    if row.is_baseline:
        return f"Primary contrast: {scenario} on {metric} — it is the baseline itself."
    return (
        f"Primary contrast: {scenario} vs {row.baseline} on {metric}: final {row.value(metric):.3g}, "
        f"{_significance(row, metric)}."
    )


def collapse_sentence(board: Sequence[BoardRow]) -> str | None:
    """A warning when the scenario best on ``correct`` is also the least diverse: correctness rising while diversity
    falls is what collapse looks like (the model repeats a few correct samples), not a win."""
    diversity = next(
        (m for m in ("unique_ratio", "diversity_levenshtein") if any(r.value(m) is not None for r in board)), None
    )
    rows = [r for r in board if r.value("correct") is not None and diversity and r.value(diversity) is not None]
    if diversity is None or len(rows) < 2:
        return None
    best = max(rows, key=lambda r: r.value("correct") or 0.0)
    poorest = min(rows, key=lambda r: r.value(diversity) or 0.0)
    if best is not poorest or len({round(r.value(diversity) or 0.0, 12) for r in rows}) == 1:
        return None
    reached = best.collapse.get("all_correct")
    when = (
        f"; it reached ≥ 99% correct at generation {reached.median:g} ({reached.events}/{reached.n} seeds)"
        if reached is not None and reached.median is not None
        else ""
    )
    return (
        f"Collapse, not a win: {best.scenario} is best on correct ({best.value('correct'):.3g}) and the least diverse "
        f"on {diversity} ({best.value(diversity):.3g}){when}. Correctness rising as diversity falls means the model "
        "repeats a few correct samples."
    )


def summary_lines(board: Sequence[BoardRow], metrics: Sequence[str], primary: Any = None) -> list[str]:
    """The summary's sentences: the primary contrast (if named), then one per metric with a direction."""
    lines = [s for s in [primary_sentence(board, primary)] if s]
    lines += [s for m in metrics if (s := metric_sentence(board, m))]
    if lines and (collapse := collapse_sentence(board)):
        lines.append(collapse)
    if lines and (note := seeds_note(board)):
        lines.append(note)
    return lines
