"""``bench pretrain --corpus FILE --out DIR``: a small GPT-2 and byte-level BPE tokenizer trained offline."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.cli.errors import BadInput


def register(sub: argparse._SubParsersAction) -> None:
    pre = sub.add_parser("pretrain", help="train a small GPT-2 + byte-level BPE tokenizer on a corpus (offline)")
    pre.add_argument("--corpus", required=True, help="corpus file (.txt, .jsonl or .parquet)")
    pre.add_argument("--out", required=True, help="new save_pretrained folder")
    pre.add_argument("--vocab-size", type=int, default=2048)
    pre.add_argument("--steps", type=int, default=300, help="optimizer steps (batch 16 chunks of 64 tokens)")
    pre.add_argument("--preset", choices=("tiny", "paper"), default="tiny")
    pre.add_argument("--seed", type=int, default=0)
    pre.set_defaults(handler=cmd_pretrain)


def cmd_pretrain(args: argparse.Namespace) -> int:
    from bench.run.pretrain import PretrainSettings, pretrain
    from bench.tasks.text import CorpusError

    out = Path(args.out)
    if out.is_symlink():  # save_pretrained would write through it, into a folder the user did not name
        raise BadInput(f"--out {out}: is a symbolic link; give the real folder")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BadInput(f"--out {out}: exists and is not an empty directory")
    settings = PretrainSettings(vocab_size=args.vocab_size, steps=args.steps, preset=args.preset, seed=args.seed)
    try:
        summary = pretrain(
            args.corpus, out, settings, say=lambda line: print(f"pretrain: {line}", file=sys.stderr, flush=True)
        )
    except (CorpusError, ValueError) as error:
        raise BadInput(str(error)) from None
    print(f"pretrained {out}: " + ", ".join(f"{k} {v}" for k, v in summary.items()))
    return 0
