"""``bench compare RUN...``: runs side by side, their shared scenarios and metrics and their differing settings."""

from __future__ import annotations

import argparse
import json

from bench.cli.errors import BadInput


def register(sub: argparse._SubParsersAction) -> None:
    compare = sub.add_parser("compare", help="runs side by side: shared scenarios and metrics, differing settings")
    compare.add_argument("runs", nargs="+", help="results directories (their newest run) or run ids in --results")
    compare.add_argument("--results", default="results", help="where run ids are looked up")
    compare.add_argument("--metrics", help="comma-separated metrics (default: the default metrics all runs carry)")
    compare.add_argument("--format", choices=("table", "json"), default="table")
    compare.set_defaults(handler=cmd_compare)


def cmd_compare(args: argparse.Namespace) -> int:
    import shutil

    from bench.analysis.compare import CompareError, compare_runs, format_comparison, resolve_runs

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
