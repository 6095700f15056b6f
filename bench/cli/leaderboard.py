"""``bench leaderboard``: a run's scenarios ranked, with confidence intervals over seeds and paired tests."""

from __future__ import annotations

import argparse

from bench.cli.common import add_ci_option, add_published_option, add_results_options, selected_run
from bench.cli.errors import BadInput


def register(sub: argparse._SubParsersAction) -> None:
    board = sub.add_parser("leaderboard", help="scenarios ranked, with 95%% CIs over seeds and paired tests")
    add_results_options(board)
    board.add_argument("--format", choices=("table", "md", "csv", "json"), default="table")
    board.add_argument("--baseline", help="scenario to compare against (default: the suite's baseline)")
    board.add_argument("--primary", default="diversity_levenshtein", help="metric to sort by (final generation)")
    board.add_argument(
        "--metrics",
        help="comma-separated metrics to compare (any metric in the results, e.g. distinct_2,novelty; "
        "default: diversity_levenshtein, correct, unique_ratio, real_nll, and the semantic metrics for tasks "
        "with meaning)",
    )
    add_ci_option(board)
    add_published_option(board)
    board.add_argument(
        "--test",
        choices=("sign-flip", "t"),
        default="sign-flip",
        help="paired test of each difference: exact sign-flip permutation test (default) or paired t-test",
    )
    board.set_defaults(handler=cmd_leaderboard)


def cmd_leaderboard(args: argparse.Namespace) -> int:
    import shutil

    from bench.analysis.leaderboard import DEFAULT_METRICS, build_leaderboard, primary_contrast
    from bench.analysis.leaderboard_formats import format_leaderboard, title

    run, rows = selected_run(args)
    metrics = tuple(m.strip() for m in args.metrics.split(",") if m.strip()) if args.metrics else DEFAULT_METRICS
    baseline = args.baseline or run.baseline
    # The pre-registered contrast is against the suite's baseline; another --baseline is exploratory (all Holm).
    contrast = primary_contrast(run.config) if baseline == run.baseline else None
    if args.metrics:  # a named metric the run does not carry is a typo, not a column to drop silently
        from bench.analysis.leaderboard import _suggest

        known = sorted({r.metric for r in rows})
        for metric in metrics:
            if metric not in known:
                raise BadInput(f"--metrics {metric}: not in run {run.run_id}{_suggest(metric, known)}")
    try:
        board = build_leaderboard(
            rows,
            baseline=baseline,
            primary=args.primary,
            metrics=metrics,
            ci=args.ci,
            test=args.test,
            contrast=contrast,
        )
    except ValueError as error:
        raise BadInput(str(error)) from None
    # Wider than the terminal (COLUMNS honoured): one block per metric instead of lines that wrap.
    width = shutil.get_terminal_size().columns
    heading = title(run.run_id, run.suite, run.git_commit, board)
    provenance = {"run_id": run.run_id, "suite": run.suite, "git_commit": run.git_commit}
    text = format_leaderboard(board, args.format, metrics=metrics, width=width, heading=heading, provenance=provenance)
    print(text.rstrip("\n"))
    return 0
