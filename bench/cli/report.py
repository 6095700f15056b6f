"""``bench report --out DIR``: a run's figures (PNG, SVG, PDF) and one HTML page, and its results JSON."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from bench.cli.common import add_ci_option, add_published_option, add_results_options, selected_run
from bench.cli.errors import BadInput

if TYPE_CHECKING:
    from bench.analysis.results_json import ResultsDocument
    from bench.records import MetricRow, RunRow
    from bench.store.database import Store


def register(sub: argparse._SubParsersAction) -> None:
    report = sub.add_parser("report", help="figures (PNG, SVG, PDF) and one HTML page")
    add_results_options(report)
    report.add_argument("--out", required=True, help="output directory")
    report.add_argument("--force", action="store_true", help="write into --out even if it holds other files")
    add_ci_option(report)
    add_published_option(report)
    report.set_defaults(handler=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    from bench.analysis.leaderboard import build_leaderboard, primary_contrast
    from bench.analysis.results_json import build_results, dumps
    from bench.report.inputs import load_report_inputs
    from bench.report.outdir import OutDirError, OutputDir
    from bench.report.page import write_report
    from bench.store.database import Store

    run, rows = selected_run(args)
    try:
        out = OutputDir(args.out, force=args.force)  # checked before anything is written
    except OutDirError as error:
        raise BadInput(f"--out {error}") from None
    board = build_leaderboard(rows, baseline=run.baseline, ci=args.ci, contrast=primary_contrast(run.config))
    store = Store(args.results)
    document = build_results(run, rows, board)
    inputs = load_report_inputs(store, run.run_id)
    written = write_report(
        rows,
        out,
        run.suite,
        run.settings(),
        board=board,
        ci=args.ci,
        run=run,
        inputs=inputs,
        results=dumps(document),
        store=store,
    )
    # The file beside the database always uses the default intervals (what a finished run writes).
    _save_results_json(store, run, rows, document if args.ci == "auto" else None)
    for path in written:
        print(path)
    return 0


def _save_results_json(
    store: Store, run: RunRow, rows: list[MetricRow], document: ResultsDocument | None = None
) -> None:
    """The run's results JSON beside the database; a read-only results directory only gets a note."""
    from bench.analysis.results_json import document_for_run, save

    try:
        save(store.results_json(run.run_id), document or document_for_run(run, rows))
    except (OSError, ValueError) as error:
        print(f"bench: note: results JSON not written beside the database: {error}", file=sys.stderr)
