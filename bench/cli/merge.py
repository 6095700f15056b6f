"""``bench merge SOURCE... --into DIR``: results directories (e.g. from shards) merged into one."""

from __future__ import annotations

import argparse

from bench.cli.errors import BadInput


def register(sub: argparse._SubParsersAction) -> None:
    merge = sub.add_parser("merge", help="merge results directories (e.g. from shards) into one")
    merge.add_argument("sources", nargs="+", help="results directories to merge in")
    merge.add_argument("--into", default="results", help="target results directory (default: results/)")
    merge.set_defaults(handler=cmd_merge)


def cmd_merge(args: argparse.Namespace) -> int:
    from bench.store.database import Store
    from bench.store.errors import StoreError

    target = Store(args.into)
    try:  # every source (tables, columns, types) is checked before the target is created
        for source in args.sources:
            Store(source).check_mergeable()
    except StoreError as error:
        raise BadInput(str(error)) from None
    for source in args.sources:
        try:
            added = target.merge_from(Store(source))
        except StoreError as error:
            raise BadInput(str(error)) from None
        print(f"{source} -> {args.into}: " + ", ".join(f"{n} {table}" for table, n in added.items()))
    return 0
