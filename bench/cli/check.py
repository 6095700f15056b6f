"""``bench check --against FILE``: the regression gate, a run's final metrics against a baseline file."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.cli.common import add_results_options, selected_run
from bench.cli.errors import BadInput


def register(sub: argparse._SubParsersAction) -> None:
    check = sub.add_parser("check", help="regression gate: compare the latest run with a baseline file (--against)")
    add_results_options(check)
    check.add_argument("--against", metavar="FILE", help="baseline JSON file to gate against")
    check.add_argument("--write-baseline", metavar="FILE", help="write a baseline from the run instead")
    check.set_defaults(handler=cmd_check)


def cmd_check(args: argparse.Namespace) -> int:
    from bench.analysis.check import compare, format_check, load_baseline, make_baseline, write_baseline
    from bench.analysis.leaderboard import build_leaderboard

    if not args.against and not args.write_baseline:
        raise BadInput("give --against FILE (or --write-baseline FILE to create one)")
    if args.write_baseline and Path(args.write_baseline).is_dir():
        raise BadInput(f"--write-baseline {args.write_baseline}: is a directory; give a file name")
    if args.write_baseline:
        from bench.store.paths import directory_problem

        folder = Path(args.write_baseline).parent
        if problem := directory_problem(folder):
            raise BadInput(f"--write-baseline {args.write_baseline}: its folder {folder} {problem}")
    run, rows = selected_run(args)
    try:
        board = [row.to_dict() for row in build_leaderboard(rows, baseline=run.baseline)]
        if args.write_baseline:
            try:
                write_baseline(args.write_baseline, make_baseline(board, run.suite))
            except OSError as error:
                raise BadInput(f"--write-baseline {args.write_baseline}: cannot write: {error.strerror}") from None
            print(f"wrote baseline {args.write_baseline} from run {run.run_id}")
            return 0
        report = compare(board, load_baseline(args.against), suite=run.suite)
    except ValueError as error:
        raise BadInput(str(error)) from None
    print(format_check(report))
    return report.exit_code
