"""What the report reads from a results directory besides the metric rows: samples to show and drop counts.

For each scenario the report shows one cell's samples (the scenario's lowest seed) at the first, middle and last
finished generation: the 10 most frequent distinct samples with their counts, and 5 samples drawn at random with
a seed derived from the report's seed, the scenario, the cell's seed and the generation (the same results give
the same page). A missing or unreadable samples file is shown as such instead of failing the report.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from bench.seeding import derive_seed

if TYPE_CHECKING:  # the report imports the records below; only the loader reads the store
    from bench.store.database import Store

TOP = 10
RANDOM = 5


@dataclass(frozen=True)
class SampleLine:
    """One shown sample: its text, how often it occurs among the generation's samples, and its verdict label."""

    text: str
    count: int
    label: str | None
    prompt: str | None = None  # text, continue mode: the prompt the sample continues (its first occurrence's)


@dataclass(frozen=True)
class SamplePanel:
    """The samples shown for one (scenario, seed, generation)."""

    scenario: str
    seed: int
    generation: int
    total: int
    distinct: int
    frequent: list[SampleLine]
    random: list[SampleLine]
    error: str | None = None


@dataclass(frozen=True)
class Drop:
    scenario: str
    seed: int
    generation: int
    reason: str
    count: int


@dataclass(frozen=True)
class ReportInputs:
    """Everything beyond the metric rows; empty by default (a report from rows alone)."""

    samples: list[SamplePanel] = field(default_factory=list)
    drops: list[Drop] = field(default_factory=list)
    # Text task: each sample's perplexity under generation 0's model, all seeds pooled, per (scenario, generation).
    sample_ppl: dict[tuple[str, int], Any] = field(default_factory=dict)


def _label(value: object) -> str | None:
    # Tasks without verdicts (free text) store no label or an empty one.
    return value if isinstance(value, str) and value else None


def pick_samples(
    texts: Sequence[str],
    labels: Sequence[str | None],
    seed: int,
    top: int = TOP,
    draws: int = RANDOM,
    prompts: Sequence[str | None] | None = None,
) -> tuple[list[SampleLine], list[SampleLine]]:
    """The ``top`` most frequent distinct texts (ties by text) and ``draws`` samples drawn without replacement; with
    ``prompts`` (continue mode), each line carries its prompt: a drawn sample its own, a frequent text its first."""
    counts = Counter(texts)
    label_of: dict[str, str | None] = {}
    prompt_of: dict[str, str | None] = {}
    for i, (text, label) in enumerate(zip(texts, labels, strict=True)):
        label_of.setdefault(text, _label(label))
        prompt_of.setdefault(text, prompts[i] if prompts is not None else None)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:top]
    frequent = [SampleLine(text, n, label_of[text], prompt_of[text]) for text, n in ranked]
    rng = random.Random(seed)
    picked = sorted(rng.sample(range(len(texts)), min(draws, len(texts))))
    drawn = [
        SampleLine(texts[i], counts[texts[i]], label_of[texts[i]], prompts[i] if prompts is not None else None)
        for i in picked
    ]
    return frequent, drawn


def _shown_generations(generations: Sequence[int]) -> list[int]:
    """First, middle and last of the finished generations (fewer when they coincide)."""
    ordered = sorted(generations)
    if not ordered:
        return []
    return sorted({ordered[0], ordered[len(ordered) // 2], ordered[-1]})


def load_report_inputs(store: Store, run_id: str, seed: int = 0) -> ReportInputs:
    """Sample panels and drop counts of ``run_id``, read from the store (read-only)."""
    from bench.store.schema import GENERATION_COLUMNS

    names = [name for name, _ in GENERATION_COLUMNS]
    cells: dict[str, dict[int, dict[int, str]]] = {}  # scenario -> seed -> generation -> samples path
    for row in store.table("generations"):
        record = dict(zip(names, row, strict=False))
        if record["run_id"] != run_id:
            continue
        cells.setdefault(record["scenario"], {}).setdefault(record["seed"], {})[record["generation"]] = record[
            "samples_path"
        ]
    panels: list[SamplePanel] = []
    for scenario, seeds in cells.items():
        cell_seed = min(seeds)
        paths = seeds[cell_seed]
        for generation in _shown_generations(list(paths)):
            panels.append(_panel(store, scenario, cell_seed, generation, paths[generation], seed))
    drops = [
        Drop(scenario, int(s), int(g), reason, int(count))
        for run, scenario, s, g, reason, count in store.table("drops")
        if run == run_id
    ]
    files: dict[tuple[str, int], list[Path]] = {}
    for scenario, seeds in cells.items():
        for paths in seeds.values():
            for generation, relative in paths.items():
                files.setdefault((scenario, generation), []).append(store.root / relative)
    return ReportInputs(samples=panels, drops=drops, sample_ppl=read_sample_ppl(files))


def _panel(store: Store, scenario: str, cell_seed: int, generation: int, relative: str, seed: int) -> SamplePanel:
    from bench.store.parquet import read_parquet

    path = store.root / relative
    try:
        columns = read_parquet(path)
        texts = [str(t) for t in columns["text"]]
        labels = columns.get("label") or [None] * len(texts)
        prompts = [None if p is None else str(p) for p in columns["prompt"]] if "prompt" in columns else None
    except (OSError, KeyError, ValueError, pa.ArrowException) as error:  # ArrowInvalid on a damaged file
        reason = str(error).strip().partition("\n")[0]
        return SamplePanel(scenario, cell_seed, generation, 0, 0, [], [], error=f"{relative}: {reason}")
    pick_seed = derive_seed(seed, "report-samples", scenario, cell_seed, generation)
    frequent, drawn = pick_samples(texts, labels, pick_seed, prompts=prompts)
    return SamplePanel(scenario, cell_seed, generation, len(texts), len(set(texts)), frequent, drawn)


def read_sample_ppl(files: Mapping[tuple[str, int], Sequence[Path]]) -> dict[tuple[str, int], np.ndarray]:
    """Per (scenario, generation): the ``ppl_ref`` values of every given ``samples.parquet`` (missing files and
    files without the column, i.e. tasks other than text, are skipped)."""
    out: dict[tuple[str, int], np.ndarray] = {}
    for key, paths in files.items():
        values = [v for v in (_ppl_ref(path) for path in paths) if v is not None]
        if values:
            joined = np.concatenate(values).astype(np.float64)
            out[key] = joined[~np.isnan(joined)]  # empty samples carry no perplexity (null)
    return out


def _ppl_ref(path: Path) -> np.ndarray | None:
    """The file's ``ppl_ref`` column; ``None`` when the file is missing, damaged (its sample panel says so) or has
    no such column."""
    try:
        if not path.is_file() or "ppl_ref" not in pq.read_schema(path).names:
            return None
        return pq.read_table(path, columns=["ppl_ref"]).column("ppl_ref").to_numpy()
    except (OSError, ValueError, pa.ArrowException):
        return None
