"""Per-generation tables of a text run, in Markdown, for docs/text.md: the mean over seeds of each metric, and the
mean length in tokens of each generation's training texts (``data.parquet``, with the run's tokenizer).

Usage: ``python -m benchmarks.text_generations RESULTS_DIR [--metrics real_ppl,mauve,...]``

It reads the newest run with finished generations (``Store.choose_run``); nothing is written.
"""

from __future__ import annotations

import argparse
import statistics
from collections import defaultdict
from pathlib import Path

import pyarrow.parquet as pq

from bench.records import RunRow
from bench.store.database import Store

DEFAULT_METRICS = (
    "real_ppl,sample_ppl_ref_p5,sample_ppl_ref_p50,sample_ppl_ref_p95,empty_share,mauve,mauve_sd,self_bleu"
)


def metric_table(rows, metrics: list[str]) -> str:
    values: dict[tuple[str, str, int], list[float]] = defaultdict(list)
    for row in rows:
        if row.metric in metrics:
            values[(row.metric, row.scenario, row.generation)].append(row.value)
    generations = sorted({g for _, _, g in values})
    scenarios = list(dict.fromkeys(s for _, s, _ in values))
    lines = ["| metric | scenario | " + " | ".join(f"g = {g}" for g in generations) + " |"]
    lines.append("|---|---|" + "---|" * len(generations))
    for metric in metrics:
        for scenario in scenarios:
            cells = [values.get((metric, scenario, g)) for g in generations]
            if not any(cells):
                continue
            shown = [f"{statistics.fmean(c):.4g}" if c else "" for c in cells]
            lines.append(f"| `{metric}` | {scenario} | " + " | ".join(shown) + " |")
    return "\n".join(lines)


def length_table(store: Store, run: RunRow) -> str:
    from bench.tasks.text import load_tokenizer

    config = run.settings()
    tokenizer = load_tokenizer(config["task"]["params"]["tokenizer"])
    lengths: dict[tuple[str, int], list[float]] = defaultdict(list)
    base = store.root / "artifacts" / run.run_id
    for path in sorted(base.glob("*/seed-*/gen-*/data.parquet")):
        scenario, generation = path.parts[-4], int(path.parts[-2].removeprefix("gen-"))
        texts = pq.read_table(path, columns=["text"]).column("text").to_pylist()
        counts = [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
        lengths[(scenario, generation)].append(statistics.fmean(counts))
    generations = sorted({g for _, g in lengths})
    scenarios = list(dict.fromkeys(s for s, _ in lengths))
    lines = ["| training texts (tokens) | " + " | ".join(f"g = {g}" for g in generations) + " |"]
    lines.append("|---|" + "---|" * len(generations))
    for scenario in scenarios:
        cells = [lengths.get((scenario, g)) for g in generations]
        lines.append(f"| {scenario} | " + " | ".join(f"{statistics.fmean(c):.1f}" if c else "" for c in cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("results")
    parser.add_argument("--metrics", default=DEFAULT_METRICS)
    args = parser.parse_args()
    store = Store(Path(args.results))
    run = store.choose_run()
    if run is None:
        raise SystemExit(f"{args.results}: no run with finished generations")
    print(f"run {run.run_id}, mean over seeds\n")
    print(metric_table(store.metric_rows(run.run_id), args.metrics.split(",")))
    print()
    print(length_table(store, run))


if __name__ == "__main__":
    main()
