"""One generation of one cell (scenario × seed): mix → fit → sample → verify → select → score → store.

:func:`step` is the generation's story and writes nothing; :func:`persist` stores what it made. Each generation reads
what it needs from the store (the previous generation's data set and selected samples), so an uninterrupted run and a
resumed one follow the same path and produce the same numbers.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.config import ResolvedScenario
from bench.learners import FitResult, Learner, LearnerSetup, Progress
from bench.metrics import higher_is_better, score_samples
from bench.mitigations import apply_mitigations
from bench.mitigations.base import MitigationContext
from bench.records import GenerationRecord
from bench.regimes import DataSet, RegimeInputs, split
from bench.seeding import derive_rng, derive_seed
from bench.store import Store, read_parquet, write_parquet
from bench.tasks import Task, Verdict


def _ignore(done: int, total: int) -> None:
    return None


@dataclass
class Hooks:
    """Progress callbacks (the runner draws bars with them): ``(done, total)`` of fitting and of sampling."""

    on_fit: Progress = _ignore
    on_sample: Progress = _ignore


@dataclass
class Cell:
    """One scenario with one seed inside one run."""

    run_id: str
    suite: str
    scenario: ResolvedScenario
    seed: int
    checkpoints: str
    store: Store
    setup: LearnerSetup
    hooks: Hooks = field(default_factory=Hooks)

    @property
    def task(self) -> Task:
        return self.setup.task

    @property
    def is_main_process(self) -> bool:
        return self.setup.accelerator.is_main_process

    def directory(self, generation: int) -> Path:
        return self.store.generation_dir(self.run_id, self.scenario.name, self.seed, generation)

    @property
    def sample_count(self) -> int:
        return self.scenario.sampling.n or self.scenario.data.size


# -- mix -------------------------------------------------------------------------------------------------------


def real_data(cell: Cell) -> DataSet:
    """Generation 0's data set R: task samples seeded by the suite seed alone."""
    texts = cell.task.generate(cell.scenario.data.size, seed=derive_seed(cell.seed, "real"))
    return DataSet.of(texts, "real")


def data_set_for(cell: Cell, generation: int, real: DataSet) -> DataSet:
    """T_g: the real data for generation 0, else the regime applied to generation g-1's stored outputs."""
    if generation == 0:
        return real
    previous_dir = cell.directory(generation - 1)
    stored = read_parquet(previous_dir / "data.parquet")
    previous = DataSet(tuple(stored["text"]), tuple(stored["origin"]))
    selected = DataSet.of(read_parquet(previous_dir / "selected.parquet")["text"], "synthetic")
    exclude = frozenset(real.texts) if cell.scenario.data.fresh == "disjoint" else frozenset()

    def fresh(k: int) -> DataSet:
        seed = derive_seed(cell.seed, "fresh", generation)
        return DataSet.of(cell.task.generate(k, seed=seed, exclude=exclude), "fresh")

    inputs = RegimeInputs(
        previous=previous,
        samples=selected,
        real=real,
        fresh=fresh,
        size=cell.scenario.data.size,
        rng=derive_rng(cell.seed, "regime", generation),
    )
    return cell.scenario.regime.next_data_set(inputs)


# -- fit -------------------------------------------------------------------------------------------------------

# Part of the generation-0 cache key: bump when what a cached generation 0 holds changes.
GENERATION_ZERO_FORMAT = 2


def generation_zero_key(cell: Cell) -> str:
    """Generation 0 depends only on these settings, so scenarios that share them share its learner."""
    s = cell.scenario
    payload = {
        "format": GENERATION_ZERO_FORMAT,
        "task": s.task.model_dump(mode="json"),
        "data": s.data.model_dump(mode="json"),
        "model": s.model.model_dump(mode="json", exclude={"init"}),
        "training": s.training.model_dump(mode="json"),
        "seed": cell.seed,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def _fit_new(cell: Cell, generation: int, train: list[str], validation: list[str]) -> tuple[Learner, FitResult]:
    s = cell.scenario
    warm = cell.directory(generation - 1) / "model" if generation > 0 and s.model.warm_start else None
    learner = s.model.create(cell.setup, seed=derive_seed(cell.seed, "init", generation), warm_from=warm)
    result = learner.fit(
        train, validation, seed=derive_seed(cell.seed, "train", generation), progress=cell.hooks.on_fit
    )
    return learner, result


def fitted_learner(cell: Cell, generation: int, train: list[str], validation: list[str]) -> tuple[Learner, FitResult]:
    """Fit generation ``generation``'s learner (generation 0 once per seed and settings, shared by scenarios)."""
    if generation > 0:
        return _fit_new(cell, generation, train, validation)
    shared = cell.store.generation_zero_dir(generation_zero_key(cell))
    if (shared / "fit.json").exists():
        result = FitResult.from_json((shared / "fit.json").read_text())
        return cell.scenario.model.load(cell.setup, shared / "model"), result
    # Every process fits (DDP needs all of them); the main one publishes the result.
    learner, result = _fit_new(cell, generation, train, validation)
    if cell.is_main_process:

        def write(staging: Path) -> None:
            learner.save(staging / "model")
            (staging / "fit.json").write_text(result.to_json())

        cell.store.publish(shared, write)
    return learner, result


# -- verify and score ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Analysis:
    """Each sample judged once: its verdict and depth, looked up by every metric and mitigation."""

    verdicts: dict[str, Verdict]
    depths: dict[str, int | None]

    @classmethod
    def of(cls, task: Task, samples: list[str]) -> Analysis:
        distinct = list(dict.fromkeys(samples))  # collapsed generations repeat samples: judge each string once
        return cls({s: task.verify(s) for s in distinct}, {s: task.depth(s) for s in distinct})

    def verdict(self, text: str) -> Verdict:
        return self.verdicts[text]


def composition_metrics(data: DataSet) -> dict[str, float]:
    return {
        "data_size": float(len(data)),
        "data_real_share": data.share("real"),
        "data_fresh_share": data.share("fresh"),
        "data_synthetic_share": data.share("synthetic"),
    }


@dataclass(frozen=True)
class GenerationOutcome:
    """What one generation made: its data set, samples with verdicts, the selection, and its numbers."""

    data: DataSet
    samples: list[str]
    labels: list[str]
    reasons: list[str]
    selected: list[str]
    drops: dict[str, int]
    metrics: dict[str, float]
    fit: FitResult
    sample_seconds: float
    learner: Learner


def step(cell: Cell, generation: int, real: DataSet) -> GenerationOutcome | None:
    """Mix, fit, sample, verify, select and score one generation; writes nothing (``None`` off the main process)."""
    s = cell.scenario
    data = data_set_for(cell, generation, real)
    train, validation = split(data, s.data.validation_fraction, derive_rng(cell.seed, "split", generation))
    learner, fit = fitted_learner(cell, generation, train, validation)
    if not cell.is_main_process:  # data-parallel helpers only fit; the main process samples, scores and stores
        return None
    learner = learner.to(cell.setup.accelerator.device)

    started = time.perf_counter()
    samples = learner.sample(
        cell.sample_count,
        seed=derive_seed(cell.seed, "sample", generation),
        settings=s.sampling,
        progress=cell.hooks.on_sample,
    )
    sample_seconds = time.perf_counter() - started

    analysis = Analysis.of(cell.task, samples)
    verdicts = [analysis.verdict(text) for text in samples]
    labels = [v.label for v in verdicts]
    context = MitigationContext(verify=analysis.verdict, seed=derive_seed(cell.seed, "mitigate", generation))
    selected, drops = apply_mitigations(s.mitigations, samples, context)

    metrics = score_samples(
        samples, labels, [analysis.depths[text] for text in samples], reference=real.texts, training=train
    )
    metrics.update(composition_metrics(data))
    if fit.best_val_loss is not None:
        metrics["val_loss"] = fit.best_val_loss
    metrics["kept_share"] = len(selected) / len(samples) if samples else 0.0
    return GenerationOutcome(
        data=data,
        samples=samples,
        labels=labels,
        reasons=[v.reason for v in verdicts],
        selected=selected,
        drops=drops,
        metrics=metrics,
        fit=fit,
        sample_seconds=sample_seconds,
        learner=learner,
    )


# -- store -----------------------------------------------------------------------------------------------------


def persist(cell: Cell, generation: int, outcome: GenerationOutcome) -> None:
    """Write one generation's artifacts, then its numbers and done marker in one transaction."""
    s = cell.scenario
    store = cell.store
    directory = cell.directory(generation)
    write_parquet(directory / "data.parquet", {"text": outcome.data.texts, "origin": outcome.data.origins})
    write_parquet(
        directory / "samples.parquet", {"text": outcome.samples, "label": outcome.labels, "reason": outcome.reasons}
    )
    write_parquet(directory / "selected.parquet", {"text": outcome.selected})
    checkpoint = None
    if cell.checkpoints != "none" or s.model.warm_start:
        outcome.learner.save(directory / "model")
        checkpoint = store.relative(directory / "model")
    store.record_generation(
        GenerationRecord(
            run_id=cell.run_id,
            suite=cell.suite,
            scenario=s.name,
            seed=cell.seed,
            generation=generation,
            metrics=outcome.metrics,
            higher_is_better={name: higher_is_better(name) for name in outcome.metrics},
            drops=outcome.drops,
            samples_path=store.relative(directory / "samples.parquet"),
            data_path=store.relative(directory / "data.parquet"),
            checkpoint_path=checkpoint,
            train_iterations=outcome.fit.iterations,
            best_val_loss=outcome.fit.best_val_loss,
            train_seconds=outcome.fit.seconds,
            sample_seconds=outcome.sample_seconds,
            useful_tokens_per_second=outcome.fit.useful_tokens_per_second,
        )
    )
    # Keep only the newest checkpoint when asked: it is all that resume and warm starts need.
    previous_model = cell.directory(generation - 1) / "model"
    if cell.checkpoints in ("last", "none") and generation > 0 and previous_model.exists():
        shutil.rmtree(previous_model)


def run_generation(cell: Cell, generation: int, real: DataSet) -> None:
    """Run and store one generation (every process fits; the main process samples, scores and stores)."""
    outcome = step(cell, generation, real)
    if outcome is not None:
        persist(cell, generation, outcome)
    cell.setup.accelerator.wait_for_everyone()
