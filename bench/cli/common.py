"""What several commands share: their common options, and the look-ups that turn a bad value into ``BadInput``.

Only the standard library is imported here; everything else is imported inside the function that needs it, so that
a command loads no more than it uses (``bench --help`` loads neither torch nor DuckDB).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bench.cli.errors import BadInput

if TYPE_CHECKING:
    from bench.records import MetricRow, RunRow

# -- options ----------------------------------------------------------------------------------------------------


def add_results_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results", default="results", help="results directory (default: results/)")
    parser.add_argument("--run", help="run id (default: the latest run)")
    parser.add_argument("--suite", help="the latest run of this suite name")


def add_published_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--published",
        action="store_true",
        help="refuse a run that cannot back a published table: made from a checkout with uncommitted changes, or "
        "from a commit that is not an ancestor of this checkout's HEAD",
    )


def add_ci_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ci",
        choices=("auto", "t", "bootstrap"),
        default="auto",
        help="interval method: auto = Student-t below 10 seeds, percentile bootstrap from 10 (default: auto)",
    )


def add_parallel_options(parser: argparse.ArgumentParser) -> None:
    # Plain strings: bench.run.parallel checks them and names the option in one line (argparse would print usage too).
    parser.add_argument("--workers", metavar="N", help="run up to N cells at once on a local Ray instance")
    parser.add_argument("--ray", metavar="ADDRESS", help="run the cells on a Ray cluster (HOST:PORT, or auto)")
    parser.add_argument("--cell-cpus", metavar="K", help="CPUs one cell takes (and torch threads it uses; default 1)")
    parser.add_argument("--cell-gpus", metavar="F", help="GPUs one cell takes, e.g. 0.25 for four cells a GPU")


def add_set_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override a suite field (YAML value), e.g. training.max_iters=100, seeds=[0], "
        "scenarios[replace].sampling.temperature=1.0; repeatable; changes the run id",
    )


# -- look-ups ---------------------------------------------------------------------------------------------------


def task_named(name: str):
    from bench.registry import UnknownNameError
    from bench.tasks import get_task

    try:
        return get_task(name)
    except UnknownNameError as error:
        raise BadInput(str(error)) from None
    except TypeError:  # the text task needs a corpus and a tokenizer: it exists only inside a suite
        raise BadInput(f"task {name!r} needs parameters (a corpus); use it in a suite") from None


def load_suite_file(path: str, overrides: Sequence[str] = ()):
    from bench.suite.config import SuiteError, load_suite

    try:
        return load_suite(path, overrides)
    except SuiteError as error:
        raise BadInput(str(error)) from None


def parallel_options(args: argparse.Namespace):
    """``--workers``/``--ray``/``--cell-cpus``/``--cell-gpus`` checked, and Ray's presence when they ask for it."""
    from bench.run.parallel import ParallelOptions

    try:
        options = ParallelOptions.parse(args.workers, args.ray, args.cell_cpus, args.cell_gpus)
    except ValueError as error:
        raise BadInput(str(error)) from None
    if options.enabled:
        from bench import extras

        option = "--workers" if options.workers is not None else "--ray"
        try:  # Ray is the optional extra `parallel`: say so before any work starts
            extras.require("parallel", option)
        except extras.MissingExtra as error:
            raise BadInput(str(error)) from None
    return options


def normalize_sample(line: str) -> str:
    # One sample per line; tokens are re-joined by single spaces so stray whitespace is not a difference.
    return " ".join(line.split())


def selected_run(args: argparse.Namespace) -> tuple[RunRow, list[MetricRow]]:
    """The selected run (latest, or --run, or the latest of --suite) and its metric rows."""
    from bench.store.database import Store

    store = Store(args.results)
    if not store.exists():
        raise BadInput(f"{args.results}: no results database here; run a suite first (bench run SUITE.yaml)")
    runs = store.runs()
    if args.run:
        chosen = [r for r in runs if r.run_id == args.run]
        if not chosen:
            raise BadInput(
                f"--run {args.run}: no such run in {args.results}; runs: {', '.join(r.run_id for r in runs)}"
            )
        run = chosen[0]
    else:
        candidates = [r for r in runs if args.suite is None or r.suite == args.suite]
        if not candidates:
            what = f"of suite {args.suite!r} " if args.suite else ""
            raise BadInput(f"{args.results}: no runs {what}recorded yet")
        # The newest run with finished generations: a crashed or failed newer run must not hide it.
        run = store.choose_run(args.suite) or candidates[-1]
        # Say so when the choice is not the obvious one: a newer run passed over, or a run that did not finish.
        # (The outputs themselves name the run; a silent note keeps one-line errors one line.)
        if run.run_id != candidates[-1].run_id or run.status != "finished":
            print(f"bench: using run {run.run_id} (suite {run.suite}, {run.status})", file=sys.stderr)
    if getattr(args, "published", False):  # docs' tables come from committed code only
        from bench.run.provenance import publication_problem

        if problem := publication_problem(run):
            raise BadInput(f"--published: {problem}")
    rows = store.metric_rows(run.run_id)
    if not rows:
        raise BadInput(f"run {run.run_id}: no finished generations yet")
    return run, rows
