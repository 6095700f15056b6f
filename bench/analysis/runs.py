"""``bench runs``: the runs of a results directory, one line each, with how far each has come.

Pure: it takes the store's ``runs`` rows and finished-generation counts and returns lines; the CLI reads the store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from bench.records import RunRow


@dataclass(frozen=True)
class RunLine:
    run_id: str
    suite: str
    status: str
    started: str
    cells_done: int
    cells: int
    generations_done: int
    generations: int

    def cells_text(self) -> str:
        return f"{self.cells_done}/{self.cells}"

    def generations_text(self) -> str:
        return f"{self.generations_done}/{self.generations}"


def _started(value: datetime | None) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return "—" if value is None else str(value)[:16]


def run_lines(runs: Sequence[RunRow], counts: Mapping[str, Mapping[tuple[str, int], int]]) -> list[RunLine]:
    """One :class:`RunLine` per run, oldest first. A cell is done when all its G generations are stored.

    Cells and generations are counted over the whole suite (all shards), from the run's resolved settings.
    """
    lines = []
    for run in runs:
        config = run.settings()
        scenarios = [s["name"] for s in config["scenarios"]]
        seeds, generations = config["seeds"], config["generations"]
        done = counts.get(run.run_id, {})
        lines.append(
            RunLine(
                run_id=run.run_id,
                suite=run.suite,
                status=run.status or "—",
                started=_started(run.started_at),
                cells_done=sum(1 for n in done.values() if n >= generations),
                cells=len(scenarios) * len(seeds),
                generations_done=sum(done.values()),
                generations=len(scenarios) * len(seeds) * generations,
            )
        )
    return lines


HEADERS = ("run id", "suite", "status", "started", "cells", "generations")


def format_runs(lines: Sequence[RunLine]) -> str:
    """Aligned plain columns (no box, so it greps and pastes well)."""
    rows = [HEADERS] + [(r.run_id, r.suite, r.status, r.started, r.cells_text(), r.generations_text()) for r in lines]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADERS))]
    right = {4, 5}  # counts align right
    out = []
    for row in rows:
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        out.append("  ".join(cells).rstrip())
    return "\n".join(out) + "\n"
