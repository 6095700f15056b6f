"""``bench validate SUITE.yaml``: check a suite completely, say what it will run and what its seeds can show."""

from __future__ import annotations

import argparse
import sys

from bench.cli.common import add_parallel_options, add_set_option, load_suite_file, parallel_options


def register(sub: argparse._SubParsersAction) -> None:
    validate = sub.add_parser("validate", help="check a suite file without running it")
    validate.add_argument("suite")
    add_set_option(validate)
    validate.add_argument(
        "--estimate",
        action="store_true",
        help="also print optimizer steps, samples, checkpoint disk and the time on this machine (a short probe)",
    )
    validate.add_argument(
        "--results",
        default="results",
        help="results directory whose earlier runs of the same learner setup refine --estimate (if it exists)",
    )
    add_parallel_options(validate)
    validate.set_defaults(handler=cmd_validate)


def cmd_validate(args: argparse.Namespace) -> int:
    suite = load_suite_file(args.suite, args.set)
    options = parallel_options(args)
    cells = len(suite.scenarios) * len(suite.seeds)
    print(
        f"{args.suite}: ok — suite {suite.suite!r}, {len(suite.scenarios)} scenario(s) × {len(suite.seeds)} seed(s)"
        f" = {cells} cell(s), {suite.generations} generation(s) each, run id {suite.run_id()}",
        flush=True,
    )
    from bench.run.parallel import count_generation_zero_tasks

    print(
        f"resources: {cells} cell(s) and {count_generation_zero_tasks(suite)} generation-0 fit(s); "
        + options.describe()
    )
    _print_smallest_p(suite)
    if args.estimate:
        from bench.run.estimate import estimate, format_estimate

        print("\n".join(format_estimate(estimate(suite, args.results), suite.checkpoints)))
    return 0


def _print_smallest_p(suite) -> None:
    """What the suite's seeds can show at best: the exact sign-flip test's smallest p, with Holm over the rows."""
    from bench.analysis.stats import smallest_sign_flip_p

    n = len(suite.seeds)
    rows = len(suite.scenarios) - 1  # compared with the baseline
    p = smallest_sign_flip_p(n)
    if rows < 1:
        print(f"smallest attainable p: none (one scenario, nothing to compare; {n} seed(s))")
        return
    holm_rows = rows - (suite.primary is not None)
    how = f"exact sign-flip over {n} seeds: 2/2^{n}" if n <= 20 else f"sign-flip over {n} seeds, 100,000 resamples"
    parts = [f"{p:.3g} for one comparison ({how})"]
    if suite.primary is not None:
        parts.append(
            f"{p:.3g} for the primary contrast ({suite.primary.scenario} on {suite.primary.metric}, uncorrected)"
        )
    if holm_rows > 0:
        parts.append(f"{min(1.0, holm_rows * p):.3g} for the best of {holm_rows} Holm-corrected row(s)")
    print("smallest attainable p: " + "; ".join(parts))
    worst = min(1.0, holm_rows * p) if holm_rows > 0 else p
    if worst > 0.05:
        # With a primary contrast the warning is about the other rows: the contrast itself may well reach 0.05.
        other_rows = suite.primary is not None and holm_rows > 0
        which = "the Holm-corrected rows cannot" if other_rows else "a comparison cannot"
        print(
            f"bench: warning: with {n} seed(s) {which} reach p < 0.05 (smallest {worst:.3g}); "
            "add seeds" + ("" if suite.primary is not None else " or pre-register one primary contrast (primary:)"),
            file=sys.stderr,
        )
