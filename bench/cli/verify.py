"""``bench verify --task NAME``: label the samples read from stdin, one JSON line each, as they arrive."""

from __future__ import annotations

import argparse
import json
import sys

from bench.cli.common import normalize_sample, task_named
from bench.cli.errors import BadInput


def register(sub: argparse._SubParsersAction) -> None:
    verify = sub.add_parser("verify", help="label samples from stdin: JSON lines {text, label}")
    verify.add_argument("--task", required=True)
    verify.set_defaults(handler=cmd_verify)


def cmd_verify(args: argparse.Namespace) -> int:
    from bench.lines import LineError, iter_lines

    task = task_named(args.task)
    try:  # streamed: each line is answered (and flushed) as soon as it has arrived
        for raw in iter_lines(sys.stdin.buffer, "stdin"):
            line = normalize_sample(raw)
            verdict = task.verify(line)
            record = {"text": line, "label": verdict.label}
            if verdict.reason:
                record["reason"] = verdict.reason
            print(json.dumps(record), flush=True)
    except LineError as error:
        raise BadInput(str(error)) from None
    return 0
