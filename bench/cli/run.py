"""``bench run SUITE.yaml``: run (or resume) a suite, in this process or on Ray."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.cli.common import add_parallel_options, add_set_option, load_suite_file, parallel_options
from bench.cli.errors import BadInput, one_line


def register(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser("run", help="run (or resume) a suite")
    run.add_argument("suite", help="suite YAML file")
    run.add_argument("--results", default="results", help="results directory (default: results/)")
    run.add_argument("--shard", help="run only cells K, K+N, ... (1-based), e.g. 2/4")
    run.add_argument("--quiet", action="store_true", help="no progress bars or progress lines (the log is kept)")
    run.add_argument("--allow-cpu", action="store_true", help="train on CPU even where BENCH_REQUIRE_GPU=1")
    add_set_option(run)
    add_parallel_options(run)
    run.set_defaults(handler=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    suite = load_suite_file(args.suite, args.set)  # validated completely before anything is created
    options = parallel_options(args)
    from bench.run.sequential import run_suite
    from bench.run.session import Shard

    try:
        shard = Shard.parse(args.shard) if args.shard else Shard()
    except ValueError as error:
        raise BadInput(str(error)) from None
    results = Path(args.results)
    if results.exists() and not results.is_dir():
        raise BadInput(f"--results {results}: exists and is not a directory")
    from bench.device import cpu_refusal

    if refusal := cpu_refusal(args.allow_cpu):
        raise BadInput(refusal)
    from bench.run.session import SettingsMismatchError

    try:
        if options.enabled:  # Ray is imported only on this path
            from bench.run.parallel import ClusterMismatchError, ParallelRunError, run_suite_parallel

            try:
                summary = run_suite_parallel(suite, args.suite, results, options, shard, show_progress=not args.quiet)
            except ClusterMismatchError as error:
                raise BadInput(str(error)) from None
            except ParallelRunError as error:
                print(f"bench: error: {one_line(error)}", file=sys.stderr)
                return 1
        else:
            summary = run_suite(suite, args.suite, results, shard, show_progress=not args.quiet)
    except SettingsMismatchError as error:
        raise BadInput(str(error)) from None
    if not summary.main_process:  # under a multi-process launch only the main process reports
        return 0
    state = "finished" if summary.finished else "partial (other shards or generations pending)"
    print(
        f"run {summary.run_id}: {summary.cells} cell(s), {summary.generations_run} generation(s) run, "
        f"{summary.generations_skipped} already done, {summary.seconds:.1f} s — {state}; results in {results}"
    )
    # The other cells finished; each failed one is named (rerun the same command to retry it), and the run exits 1.
    for failure in summary.failed:  # one format for both drivers (bench.run.session.CellFailure)
        print(f"bench: error: {one_line(failure.describe())}", file=sys.stderr)
    return 1 if summary.failed else 0
