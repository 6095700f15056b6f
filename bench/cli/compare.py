"""``bench compare RUN...``: runs side by side, their shared scenarios and metrics and their differing settings."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bench.cli.errors import BadInput

if TYPE_CHECKING:
    from bench.analysis.compare import ComparedRun


def register(sub: argparse._SubParsersAction) -> None:
    compare = sub.add_parser("compare", help="runs side by side: shared scenarios and metrics, differing settings")
    compare.add_argument("runs", nargs="+", help="results directories (their newest run) or run ids in --results")
    compare.add_argument("--results", default="results", help="where run ids are looked up")
    compare.add_argument("--metrics", help="comma-separated metrics (default: the default metrics all runs carry)")
    compare.add_argument("--format", choices=("table", "json"), default="table")
    compare.set_defaults(handler=cmd_compare)


def cmd_compare(args: argparse.Namespace) -> int:
    import shutil

    from bench.analysis.compare import CompareError, compare_runs, format_comparison

    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics else None
    try:
        comparison = compare_runs(resolve_runs(args.runs, args.results), metrics)
    except CompareError as error:
        raise BadInput(str(error)) from None
    if args.format == "json":
        print(json.dumps(comparison.to_dict(), indent=2, default=str))
    else:
        print(format_comparison(comparison, shutil.get_terminal_size().columns).rstrip("\n"))
    return 0


def resolve_runs(arguments: Sequence[str], results: str) -> list[ComparedRun]:
    """Each argument as a run: a directory holding a results database (its newest run with finished generations),
    else a run id in ``results``. The command reads the store and hands analysis the rows (analysis never opens it)."""
    from bench.analysis.compare import ComparedRun, CompareError
    from bench.store.database import Store
    from bench.store.layout import DATABASE

    if len(arguments) < 2:
        raise CompareError("give at least two runs (results directories or run ids) to compare")
    chosen: list[ComparedRun] = []
    for argument in arguments:
        path = Path(argument)
        if path.is_dir() and (path / DATABASE).is_file():
            store = Store(path)
            run = store.choose_run()
            if run is None:
                raise CompareError(f"{argument}: no run with finished generations in this results directory")
        else:
            store = Store(results)
            if not store.exists():
                raise CompareError(
                    f"{argument}: neither a results directory nor a run id ({results} holds no results database)"
                )
            runs = store.runs()
            found = next((r for r in runs if r.run_id == argument), None)
            if found is None:
                known = ", ".join(r.run_id for r in runs) or "none"
                raise CompareError(f"{argument}: neither a results directory nor a run id in {results}; runs: {known}")
            run = found
        rows = store.metric_rows(run.run_id)
        if not rows:
            raise CompareError(f"{argument}: run {run.run_id} has no finished generations yet")
        chosen.append(ComparedRun(argument, run, rows))
    return chosen
