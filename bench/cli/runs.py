"""``bench runs``: the runs of a results directory and how far each has come."""

from __future__ import annotations

import argparse

from bench.cli.errors import BadInput


def register(sub: argparse._SubParsersAction) -> None:
    runs = sub.add_parser("runs", help="list the runs of a results directory and how far each has come")
    runs.add_argument("--results", default="results", help="results directory (default: results/)")
    runs.set_defaults(handler=cmd_runs)


def cmd_runs(args: argparse.Namespace) -> int:
    from bench.analysis.runs import format_runs, run_lines
    from bench.store.database import Store

    store = Store(args.results)
    if not store.exists():
        raise BadInput(f"{args.results}: no results database here; run a suite first (bench run SUITE.yaml)")
    print(format_runs(run_lines(store.runs(), store.generation_counts())).rstrip("\n"))
    return 0
