"""Per-task figures for the report: a task registers functions that draw extra figures for its runs.

The text task's perplexity histograms (``bench.report.text_figures``) are the first; ``bench.report.page`` draws every
figure registered for the run's task after the common ones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from matplotlib.figure import Figure

from bench.records import MetricRow
from bench.report.inputs import ReportInputs


@dataclass(frozen=True)
class FigureContext:
    """What a per-task figure may draw from."""

    rows: Sequence[MetricRow]
    inputs: ReportInputs
    order: Sequence[str]
    colors: dict[str, Any]


# task name -> functions returning (file stem, figure, caption) triples; see :func:`task_figure`.
TASK_FIGURES: dict[str, list[Callable[[FigureContext], list[tuple[str, Figure, str]]]]] = {}


def task_figure(task: str) -> Callable:
    """Register extra figures for runs of ``task`` (drawn after the common ones, in registration order)::

    @task_figure("text")
    def perplexity_histogram(context: FigureContext) -> list[tuple[str, Figure, str]]: ...
    """

    def register(function: Callable[[FigureContext], list[tuple[str, Figure, str]]]) -> Callable:
        TASK_FIGURES.setdefault(task, []).append(function)
        return function

    return register
