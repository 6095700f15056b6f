"""Browsing a run's samples: ``bench samples`` on the command line and the report's per-cell sample pages.

A run keeps every generation's samples (``samples.parquet``: text, verdict label, drop reason). Both views read
them through :func:`load_cells` and filter them with the same :class:`SampleFilter`: by scenario, seed, generation,
verdict label and a regular expression over the text; ``top`` keeps each cell-generation's K most frequent distinct
samples (with their counts) instead of every sample.
"""

from __future__ import annotations

import difflib
import json
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bench.report.html import page_environment

if TYPE_CHECKING:
    from bench.store.database import Store

# One page per cell embeds at most this many distinct samples per generation (the most frequent first), so a
# paper-sized run still gives pages a browser opens quickly; the page says when it cut.
PAGE_DISTINCT_LIMIT = 2000


class SampleQueryError(ValueError):
    """A filter that names nothing in the run (one line, naming the option and what exists)."""


@dataclass(frozen=True)
class CellFiles:
    """Where one (scenario, seed) cell keeps each finished generation's samples (paths inside the results)."""

    scenario: str
    seed: int
    generations: dict[int, str]


@dataclass(frozen=True)
class Sample:
    """One shown sample; ``count`` is how often its text occurs in its generation (1 per line without ``top``)."""

    scenario: str
    seed: int
    generation: int
    text: str
    label: str | None
    reason: str | None
    count: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "seed": self.seed,
            "generation": self.generation,
            "label": self.label,
            "reason": self.reason,
            "count": self.count,
            "text": self.text,
        }


@dataclass(frozen=True)
class SampleFilter:
    scenario: str | None = None
    seed: int | None = None
    generation: int | None = None
    label: str | None = None
    pattern: re.Pattern[str] | None = None
    top: int | None = None


def load_cells(store: Store, run_id: str) -> list[CellFiles]:
    """The run's cells, in the store's order, with the samples file of every finished generation."""
    from bench.store.schema import GENERATION_COLUMNS

    names = [name for name, _ in GENERATION_COLUMNS]
    cells: dict[tuple[str, int], dict[int, str]] = {}
    for row in store.table("generations"):
        record = dict(zip(names, row, strict=False))
        if record["run_id"] == run_id:
            key = (record["scenario"], int(record["seed"]))
            cells.setdefault(key, {})[int(record["generation"])] = record["samples_path"]
    return [CellFiles(scenario, seed, dict(sorted(gens.items()))) for (scenario, seed), gens in cells.items()]


def _near(value: str, known: Sequence[str]) -> str:
    near = difflib.get_close_matches(value, list(known), n=3, cutoff=0.5)
    return f" (did you mean {', '.join(repr(n) for n in near)}?)" if near else ""


def make_filter(
    cells: Sequence[CellFiles],
    scenario: str | None = None,
    seed: int | None = None,
    generation: int | None = None,
    label: str | None = None,
    grep: str | None = None,
    top: int | None = None,
) -> SampleFilter:
    """Check every option against the run before anything is read; :class:`SampleQueryError` names the one."""
    scenarios = list(dict.fromkeys(c.scenario for c in cells))
    if scenario is not None and scenario not in scenarios:
        raise SampleQueryError(
            f"--scenario {scenario!r}: not in this run{_near(scenario, scenarios)}; scenarios: {', '.join(scenarios)}"
        )
    mine = [c for c in cells if scenario is None or c.scenario == scenario]
    seeds = sorted({c.seed for c in mine})
    if seed is not None and seed not in seeds:
        raise SampleQueryError(f"--seed {seed}: not in this run; seeds: {', '.join(map(str, seeds))}")
    mine = [c for c in mine if seed is None or c.seed == seed]
    generations = sorted({g for c in mine for g in c.generations})
    if generation is not None and generation not in generations:
        raise SampleQueryError(
            f"--generation {generation}: not finished in this run; generations: {', '.join(map(str, generations))}"
        )
    if top is not None and top < 1:
        raise SampleQueryError(f"--top {top}: give a number of samples of at least 1")
    pattern = None
    if grep is not None:
        try:
            pattern = re.compile(grep)
        except re.error as error:
            raise SampleQueryError(f"--grep {grep!r}: not a regular expression ({error})") from None
    return SampleFilter(scenario, seed, generation, label, pattern, top)


def _read(store: Store, relative: str) -> tuple[list[str], list[str | None], list[str | None]]:
    from bench.store.parquet import read_parquet

    columns = read_parquet(store.root / relative)
    texts = [str(t) for t in columns["text"]]
    labels = [v if isinstance(v, str) and v else None for v in columns.get("label") or [None] * len(texts)]
    reasons = [v if isinstance(v, str) and v else None for v in columns.get("reason") or [None] * len(texts)]
    return texts, labels, reasons


def iter_samples(store: Store, cells: Sequence[CellFiles], chosen: SampleFilter) -> Iterator[Sample]:
    """The samples ``chosen`` selects, cell by cell and generation by generation, in file order (``top``: by count,
    ties by text)."""
    for cell in cells:
        if chosen.scenario not in (None, cell.scenario) or chosen.seed not in (None, cell.seed):
            continue
        for generation, relative in cell.generations.items():
            if chosen.generation not in (None, generation):
                continue
            texts, labels, reasons = _read(store, relative)
            counts = Counter(texts)
            keep = [
                i
                for i, text in enumerate(texts)
                if (chosen.label is None or labels[i] == chosen.label)
                and (chosen.pattern is None or chosen.pattern.search(text))
            ]
            if chosen.top is None:
                for i in keep:
                    yield Sample(cell.scenario, cell.seed, generation, texts[i], labels[i], reasons[i], 1)
                continue
            first: dict[str, int] = {}
            for i in keep:
                first.setdefault(texts[i], i)
            ranked = sorted(first, key=lambda t: (-counts[t], t))[: chosen.top]
            for text in ranked:
                i = first[text]
                yield Sample(cell.scenario, cell.seed, generation, text, labels[i], reasons[i], counts[text])


def format_sample(sample: Sample) -> str:
    """One text line: ``scenario seed 0 gen 2  correct  3×  text`` (newlines in the text shown as ``⏎``)."""
    label = sample.label or "-"
    if sample.reason:
        label += f" (dropped: {sample.reason})"
    text = sample.text.replace("\r", "␍").replace("\n", "⏎") if sample.text else "(empty sample)"
    return f"{sample.scenario}\tseed {sample.seed}\tgen {sample.generation}\t{label}\t{sample.count}×\t{text}"


# -- the report's per-cell pages --------------------------------------------------------------------------------


def cell_page_name(index: int) -> str:
    """File name of the i-th cell's page (scenario names can hold any character, so pages are numbered)."""
    return f"samples-{index:03d}.html"


def cell_payload(store: Store, cell: CellFiles, limit: int = PAGE_DISTINCT_LIMIT) -> dict[str, Any]:
    """What one cell's page embeds: per generation its distinct samples (most frequent first) with count and label."""
    generations = []
    for generation, relative in cell.generations.items():
        try:
            texts, labels, _ = _read(store, relative)
        except (OSError, KeyError, ValueError) as error:
            generations.append({"generation": generation, "error": f"{relative}: {error}", "samples": []})
            continue
        counts = Counter(texts)
        label_of: dict[str, str | None] = {}
        for text, label in zip(texts, labels, strict=True):
            label_of.setdefault(text, label)
        ranked = sorted(counts, key=lambda t: (-counts[t], t))
        generations.append(
            {
                "generation": generation,
                "total": len(texts),
                "distinct": len(counts),
                "cut": max(len(ranked) - limit, 0),
                "samples": [[t, counts[t], label_of[t] or ""] for t in ranked[:limit]],
            }
        )
    return {"scenario": cell.scenario, "seed": cell.seed, "generations": generations}


def embedded_json(payload: Any) -> str:
    """JSON safe inside ``<script type="application/json">``: ``<``, ``>``, ``&`` and line separators escaped, so
    no sample can close the script element or start markup."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    for raw in ("<", ">", "&", "\u2028", "\u2029"):
        text = text.replace(raw, f"\\u{ord(raw):04x}")
    return text


def render_cell_page(payload: dict[str, Any], run_id: str, verdict_colors: dict[str, str]) -> str:
    """The static, self-contained page of one cell: samples embedded as JSON, filtered by inline script."""
    return (
        page_environment()
        .get_template("samples.html.j2")
        .render(
            title=f"samples: {payload['scenario']}, seed {payload['seed']}",
            run_id=run_id,
            payload=embedded_json(payload),
            generations=[g["generation"] for g in payload["generations"]],
            labels=sorted({s[2] for g in payload["generations"] for s in g["samples"] if s[2]}),
            verdict_colors=verdict_colors,
        )
    )


def write_cell_pages(out: Any, store: Store, run_id: str, order: Sequence[str], verdict_colors: dict[str, str]):
    """Write one page per cell into ``out`` (a :class:`bench.report.outdir.OutputDir`); return (scenario, seed, name)
    links in leaderboard order, and the paths written."""
    cells = load_cells(store, run_id)
    rank = {s: i for i, s in enumerate(order)}
    cells.sort(key=lambda c: (rank.get(c.scenario, len(rank)), c.scenario, c.seed))
    links, written = [], []
    for i, cell in enumerate(cells, start=1):
        name = cell_page_name(i)
        written.append(out.write_text(name, render_cell_page(cell_payload(store, cell), run_id, verdict_colors)))
        links.append((cell.scenario, cell.seed, name))
    return links, written
