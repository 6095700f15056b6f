"""``bench runs`` formatting: cells and generations done, counted over the whole suite."""

from __future__ import annotations

import json
from datetime import datetime

from bench.analysis.runs import format_runs, run_lines
from bench.records import RunRow


def run(run_id: str, status: str, scenarios: list[str], seeds: list[int], generations: int) -> RunRow:
    config = {"seeds": seeds, "generations": generations, "scenarios": [{"name": n} for n in scenarios]}
    return RunRow(
        run_id=run_id,
        suite=run_id.split("-")[0],
        status=status,
        started_at=datetime(2026, 11, 28, 4, 5, 6),
        config=json.dumps(config),
    )


def test_run_lines_count_cells_and_generations() -> None:
    runs = [run("a-1", "finished", ["x", "y"], [0, 1], 3), run("b-2", "running", ["x"], [0, 1, 2], 10)]
    counts = {"a-1": {("x", 0): 3, ("x", 1): 3, ("y", 0): 3, ("y", 1): 3}, "b-2": {("x", 0): 10, ("x", 1): 4}}
    a, b = run_lines(runs, counts)
    assert (a.cells_text(), a.generations_text(), a.status) == ("4/4", "12/12", "finished")
    assert (b.cells_text(), b.generations_text(), b.status) == ("1/3", "14/30", "running")
    assert a.started == "2026-11-28 04:05"
    text = format_runs([a, b]).splitlines()
    assert text[0].split() == ["run", "id", "suite", "status", "started", "cells", "generations"]
    assert text[1].split() == ["a-1", "a", "finished", "2026-11-28", "04:05", "4/4", "12/12"]
    assert text[2].split() == ["b-2", "b", "running", "2026-11-28", "04:05", "1/3", "14/30"]
    assert len({line.index("finished") for line in text[1:2]} | {text[2].index("running")}) == 1  # aligned


def test_a_run_without_generations_shows_zero() -> None:
    (line,) = run_lines([run("c-3", "running", ["x"], [0], 2)], {})
    assert (line.cells_text(), line.generations_text()) == ("0/1", "0/2")
