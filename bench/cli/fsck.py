"""``bench fsck``: damaged or orphaned artifacts in a results directory (exit 1 if any; ``--repair`` fixes them)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    fsck = sub.add_parser("fsck", help="find damaged or orphaned artifacts (exit 1 if any; --repair fixes them)")
    fsck.add_argument("--results", default="results", help="results directory (default: results/)")
    fsck.add_argument("--repair", action="store_true", help="remove orphans, mark damaged generations unfinished")
    fsck.set_defaults(handler=cmd_fsck)


def cmd_fsck(args: argparse.Namespace) -> int:
    from bench.store.fsck import check_results, repair

    findings = check_results(args.results)
    for finding in findings:
        print(finding.describe())
    if not findings:
        print(f"{args.results}: no damaged or orphaned items")
        return 0
    if not args.repair:
        print(
            f"{len(findings)} problem(s); `bench fsck --repair` removes orphans and marks damaged generations "
            "unfinished (a rerun redoes them)"
        )
        return 1
    kept = repair(args.results, findings)
    print(f"repaired {len(findings) - len(kept)} problem(s); rerun the suite to redo the generations marked unfinished")
    if kept:
        print(f"kept {len(kept)} item(s) that are not provably bench's (listed above); remove them by hand if yours")
        return 1
    return 0
