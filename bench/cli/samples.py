"""``bench samples``: a run's samples, filtered, as text lines or JSON lines."""

from __future__ import annotations

import argparse
import json

from bench.cli.common import add_results_options, selected_run
from bench.cli.errors import BadInput


def register(sub: argparse._SubParsersAction) -> None:
    samples = sub.add_parser("samples", help="browse a run's samples, filtered (text lines or JSON lines)")
    add_results_options(samples)
    samples.add_argument("--scenario", help="only this scenario")
    samples.add_argument("--seed", type=int, help="only this seed")
    samples.add_argument("--generation", type=int, help="only this generation")
    samples.add_argument("--label", help="only samples with this verdict (correct, incorrect, invalid)")
    samples.add_argument("--grep", metavar="RE", help="only samples whose text matches this regular expression")
    samples.add_argument(
        "--top", type=int, metavar="K", help="per cell and generation, the K most frequent distinct samples"
    )
    samples.add_argument("--format", choices=("text", "json"), default="text")
    samples.set_defaults(handler=cmd_samples)


def cmd_samples(args: argparse.Namespace) -> int:
    from bench.report.samples import SampleQueryError, format_sample, iter_samples, load_cells, make_filter
    from bench.store.database import Store

    run, _ = selected_run(args)
    store = Store(args.results)
    cells = load_cells(store, run.run_id)
    try:  # every option checked before a samples file is read
        chosen = make_filter(cells, args.scenario, args.seed, args.generation, args.label, args.grep, args.top)
    except SampleQueryError as error:
        raise BadInput(str(error)) from None
    for sample in iter_samples(store, cells, chosen):
        print(json.dumps(sample.to_dict(), ensure_ascii=False) if args.format == "json" else format_sample(sample))
    return 0
