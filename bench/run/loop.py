"""One generation of one cell (scenario × seed): mix → fit → sample → verify → select → score → store.

:func:`step` is the generation's story and writes nothing (but the shared generation-0 cache); :func:`persist`
writes what it made. Each generation reads
what it needs from the store (the previous generation's data set and selected samples), so an uninterrupted run and a
resumed one follow the same path and produce the same numbers.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import os
import shutil
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import bench
from bench.learners import FitResult, Learner, LearnerSetup, Progress
from bench.metrics import higher_is_better, score_samples
from bench.mitigations import apply_mitigations
from bench.mitigations.base import MitigationContext
from bench.records import GenerationRecord
from bench.regimes import DataSet, RegimeInputs
from bench.run.splits import item_sides, string_sides
from bench.seeding import derive_rng, derive_seed
from bench.store.database import Store
from bench.store.integrity import MANIFEST, folder_digests
from bench.store.parquet import read_parquet, write_parquet
from bench.suite.config import ResolvedScenario
from bench.tasks import Task, Verdict, has_meaning, has_verdicts, task_meaning


def _ignore(done: int, total: int, loss: float | None = None) -> None:
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
    generations: int = 0  # the suite's count: the last generation's checkpoint goes under ``checkpoints: none``
    # What the last generation run in this process left for the next one: (generation, T_g, S_g), and every S so
    # far. The same values are read back from the store after a resume; keeping them saves the fast learners a
    # Parquet round trip per generation.
    carried: tuple[int, DataSet, DataSet] | None = None
    history: list[DataSet] = field(default_factory=list)
    reference: Learner | None = None  # generation 0's learner, loaded once for the text metrics

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


@dataclass(frozen=True)
class RealData:
    """What a cell draws from the task's generator once, each with its own derived seed.

    ``train`` is R, generation 0's data set. ``test`` is T*, the fixed held-out real test set of ``real_nll``
    (independent of R: new draws from the same source, which may repeat some of R's strings, as any sample would).
    ``validation`` is V*, the real validation set of ``training.validation: real`` (else empty): drawn with its own
    seed and string-disjoint from T*, so early stopping never selects a checkpoint on the strings ``real_nll`` scores.
    """

    train: DataSet
    test: list[str]
    validation: list[str]
    meanings: frozenset[str] | None = None  # R's meanings, for tasks that define them


def real_data(cell: Cell) -> RealData:
    """R, T* and (with ``training.validation: real``) the real validation set V* of this cell's seed."""
    s = cell.scenario
    task = cell.task
    # A corpus task draws T* and the validation set from its own held-out parts; a generator draws new samples.
    held_out = getattr(task, "held_out", None)
    train = task.generate(s.data.size, seed=derive_seed(cell.seed, "real"))
    meanings = None
    if has_meaning(task):
        meanings = frozenset(m for m in (task_meaning(task, text) for text in dict.fromkeys(train)) if m is not None)
    test_size, test_seed = s.data.resolved_test_size(), derive_seed(cell.seed, "test")
    test = held_out("test", test_size, test_seed) if held_out else task.generate(test_size, seed=test_seed)
    validation: list[str] = []
    if s.training.validation == "real":
        size = max(1, round(s.data.validation_fraction * s.data.size))
        seed = derive_seed(cell.seed, "real-validation")
        # A corpus's validation and test parts are disjoint already; a generator excludes T*'s strings.
        validation = (
            held_out("validation", size, seed) if held_out else task.generate(size, seed=seed, exclude=frozenset(test))
        )
    return RealData(
        train=DataSet.of(train, "real"),
        test=test,
        validation=validation,
        meanings=meanings,
    )


def stored_selection(cell: Cell, generation: int) -> DataSet:
    """S_g as stored: the generation's samples that passed the mitigations."""
    return DataSet.of(read_parquet(cell.directory(generation) / "selected.parquet")["text"], "synthetic")


def selected_history(cell: Cell, generation: int) -> DataSet:
    """S_0 ∪ … ∪ S_{generation}: every earlier generation's selected samples."""
    if len(cell.history) != generation + 1:  # after a resume: read them back
        cell.history = [stored_selection(cell, g) for g in range(generation + 1)]
    return DataSet(
        tuple(t for part in cell.history for t in part.texts), tuple(o for part in cell.history for o in part.origins)
    )


def previous_generation(cell: Cell, generation: int) -> tuple[DataSet, DataSet]:
    """T_{g-1} and S_{g-1}: kept in memory from the generation just run, else read from the store."""
    if cell.carried is not None and cell.carried[0] == generation - 1:
        return cell.carried[1], cell.carried[2]
    stored = read_parquet(cell.directory(generation - 1) / "data.parquet")
    return DataSet(tuple(stored["text"]), tuple(stored["origin"])), stored_selection(cell, generation - 1)


def data_set_for(cell: Cell, generation: int, real: DataSet) -> DataSet:
    """T_g: the real data for generation 0, else the regime applied to generation g-1's outputs."""
    if generation == 0:
        return real
    previous, selected = previous_generation(cell, generation)
    exclude = frozenset(real.texts) if cell.scenario.data.fresh == "disjoint" else frozenset()

    def fresh(k: int) -> DataSet:
        seed = derive_seed(cell.seed, "fresh", generation)
        return DataSet.of(cell.task.generate(k, seed=seed, exclude=exclude), "fresh")

    inputs = RegimeInputs(
        previous=previous,
        samples=selected,
        real=real,
        fresh=fresh,
        history=lambda: selected_history(cell, generation - 1),
        size=cell.scenario.data.size,
        rng=derive_rng(cell.seed, "regime", generation),
    )
    return cell.scenario.regime.next_data_set(inputs)


@dataclass(frozen=True)
class Split:
    """What the learner trains and early-stops on, and each item of T_g's side (``True``: validation)."""

    train: list[str]
    validation: list[str]
    sides: list[bool]


def fit_split(cell: Cell, generation: int, data: DataSet, real: RealData) -> Split:
    """``training.validation``: an item or string split of T_g, or all of T_g and the real validation set V*."""
    policy = cell.scenario.training.validation
    if policy == "real":
        return Split(list(data.texts), real.validation, [False] * len(data.texts))
    rng = derive_rng(cell.seed, "split", generation)
    fraction = cell.scenario.data.validation_fraction
    sides = item_sides(len(data.texts), fraction, rng) if policy == "items" else string_sides(data, fraction, rng)
    train = [text for text, held in zip(data.texts, sides, strict=True) if not held]
    validation = [text for text, held in zip(data.texts, sides, strict=True) if held]
    return Split(train, validation, sides)


# -- fit -------------------------------------------------------------------------------------------------------

# Part of the generation-0 cache key: bump when what a cached generation 0 holds changes.
GENERATION_ZERO_FORMAT = 4
# The modules whose code decides what a fitted learner is: an edit to any of them must not reuse an old cached fit.
TRAINING_MODULES = ("learners", "run/splits.py", "tasks")


@cache
def training_code_hash(extra: tuple[str, ...] = ()) -> str:
    """SHA-256 over the source of the training modules (and a plugin learner's own file)."""
    root = Path(bench.__file__).parent
    files: list[Path] = []
    for name in TRAINING_MODULES:
        path = root / name
        files.extend(sorted(path.rglob("*.py")) if path.is_dir() else [path])
    files.extend(Path(e) for e in extra)
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(root) if path.is_relative_to(root) else path.name).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def generation_zero_payload(cell: Cell) -> dict:
    """Generation 0 depends only on these settings (and this code), so scenarios that share them share it."""
    return generation_zero_payload_of(cell.scenario, cell.seed)


def generation_zero_payload_of(s: ResolvedScenario, seed: int) -> dict:
    from bench.suite.input_digests import digests, input_paths
    from bench.suite.paths import absolute_paths

    source = inspect.getsourcefile(type(s.model))
    # Contents of the corpus and model folder; input paths absolute, so the key is the same from any working folder.
    inputs = {os.path.abspath(path): digest for path, digest in digests(input_paths(s.task.params, s.model)).items()}
    payload = {
        **({"inputs": inputs} if inputs else {}),
        "format": GENERATION_ZERO_FORMAT,
        "version": bench.__version__,
        "code": training_code_hash((source,) if source else ()),
        "task": s.task.model_dump(mode="json"),
        "data": s.data.model_dump(mode="json"),
        "model": s.model.model_dump(mode="json", exclude={"init"}),
        # scratch and warm share generation 0; pretrained weights (init pretrained, or warm from them) do not
        **({"start": s.model.init != "scratch"} if getattr(s.model, "pretrained", None) else {}),
        "training": s.training.model_dump(mode="json"),
        "seed": seed,
    }
    return absolute_paths(payload)


def generation_zero_key(cell: Cell) -> str:
    """The cache folder's key: scenarios with the same generation-0 settings and seed share its learner."""
    return generation_zero_key_of(cell.scenario, cell.seed)


def generation_zero_key_of(s: ResolvedScenario, seed: int) -> str:
    """:func:`generation_zero_key` from a scenario and seed (what ``bench validate --estimate`` counts)."""
    payload = generation_zero_payload_of(s, seed)
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def cache_problem(shared: Path, payload: dict) -> str | None:
    """Why a cached generation 0 cannot be used (``None``: it can): a missing or damaged file, or a manifest for
    other settings (e.g. another seed's folder copied here)."""
    try:
        manifest = json.loads((shared / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        return f"{shared / MANIFEST}: unreadable ({error})"
    if not isinstance(manifest, dict) or manifest.get("payload") != payload:
        return f"{shared}: made for other settings or seed"
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        return f"{shared / MANIFEST}: lists no files"
    actual = folder_digests(shared, shared)
    actual.pop(MANIFEST, None)
    for name, digest in sorted(files.items()):
        if name not in actual:
            return f"{shared / name}: missing"
        if actual[name] != digest:
            return f"{shared / name}: content differs from its recorded SHA-256"
    extra = sorted(set(actual) - set(files))
    return f"{shared / extra[0]}: not written by the cache" if extra else None


def _fit_new(cell: Cell, generation: int, train: list[str], validation: list[str]) -> tuple[Learner, FitResult]:
    s = cell.scenario
    warm = cell.directory(generation - 1) / "model" if generation > 0 and s.model.warm_start else None
    learner = s.model.create(cell.setup, seed=derive_seed(cell.seed, "init", generation), warm_from=warm)
    result = learner.fit(
        train, validation, seed=derive_seed(cell.seed, "train", generation), progress=cell.hooks.on_fit
    )
    return learner, result


def fitted_learner(cell: Cell, generation: int, train: list[str], validation: list[str]) -> tuple[Learner, FitResult]:
    """Fit generation ``generation``'s learner (generation 0 once per seed and settings, shared by scenarios).

    A cached generation 0 is used only when its manifest matches these settings and every file its digest; a
    damaged or foreign one is removed and refitted (the fit is deterministic, so the numbers do not change).
    """
    if generation > 0:
        return _fit_new(cell, generation, train, validation)
    payload = generation_zero_payload(cell)
    shared = cell.store.generation_zero_dir(generation_zero_key(cell))
    if shared.exists():
        if cache_problem(shared, payload) is None:
            result = FitResult.from_json((shared / "fit.json").read_text())
            return cell.scenario.model.load(cell.setup, shared / "model"), result
        if cell.is_main_process:
            shutil.rmtree(shared, ignore_errors=True)
    # Every process fits (DDP needs all of them); the main one publishes the result.
    learner, result = _fit_new(cell, generation, train, validation)
    if cell.is_main_process:

        def write(staging: Path) -> None:
            learner.save(staging / "model")
            (staging / "fit.json").write_text(result.to_json())
            manifest = {"payload": payload, "files": folder_digests(staging, staging)}
            (staging / MANIFEST).write_text(json.dumps(manifest, sort_keys=True), encoding="utf-8")

        cell.store.publish(shared, write)
    return learner, result


# -- verify and score ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Analysis:
    """Each distinct sample judged once: its verdict, depth and (for tasks with meaning) meaning, looked up by every
    metric and mitigation."""

    verdicts: dict[str, Verdict] | None  # None for tasks without verdicts (text)
    depths: dict[str, int | None]
    meanings: dict[str, str | None] | None
    trivial: dict[str, bool] | None = None  # tasks that define trivial correct samples (identities)
    semantic_k: int | None = None  # the task's k of semantic_unique_at_k

    @classmethod
    def of(cls, task: Task, samples: list[str]) -> Analysis:
        distinct = list(dict.fromkeys(samples))  # collapsed generations repeat samples: judge each string once
        meanings = {s: task_meaning(task, s) for s in distinct} if has_meaning(task) else None
        verdicts = {s: task.verify(s) for s in distinct} if has_verdicts(task) else None
        is_trivial = getattr(task, "trivial", None)
        trivial = {s: bool(is_trivial(s)) for s in distinct} if callable(is_trivial) else None
        depths = {s: task.depth(s) for s in distinct}
        return cls(verdicts, depths, meanings, trivial, getattr(task, "semantic_k", None))

    def verdict(self, text: str) -> Verdict:
        if self.verdicts is None:
            raise TypeError("this task has no verdicts")
        return self.verdicts[text]

    def scores(
        self,
        samples: list[str],
        reference: list[str] | None,
        reference_meanings: frozenset[str] | None,
        training: list[str] | None = None,
        exclude: frozenset[str] = frozenset(),
    ) -> dict[str, float]:
        """Every sample metric (but those in ``exclude``), from what was judged once."""
        return score_samples(
            samples,
            None if self.verdicts is None else [self.verdicts[t].label for t in samples],
            [self.depths[t] for t in samples],
            reference=reference,
            training=training,
            meanings=None if self.meanings is None else [self.meanings[t] for t in samples],
            reference_meanings=reference_meanings,
            exclude=exclude,
            trivial=None if self.trivial is None else [self.trivial[t] for t in samples],
            semantic_k=self.semantic_k,
        )


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
    sample_ppl: list[float | None] | None = None  # text: each sample's perplexity under the reference (None: empty)
    prompts: list[str] | None = None  # text, continue mode: each sample's prompt part (the sample is the new text)
    sides: list[bool] | None = None  # each item of ``data``: held out for validation (True) or trained on


def held_out_metrics(learner: Learner, test: list[str], real: frozenset[str] | None = None) -> dict[str, float]:
    """Fit to held-out real data (Shumailov et al. 2024; Gerstgrasser et al. 2404.01413; Kazdan et al. 2410.16713):
    the mean per-token NLL of T* under this generation's model, and its exponential. Absent when the learner cannot
    score text.

    T* is an independent draw, so part of it repeats strings of R (29–42% of the logic task's items). Given R's
    strings (``real``), ``real_nll_seen`` and ``real_nll_unseen`` split T* by whether an item's string is in R, so
    memorizing R and generalizing beyond it can be told apart; each is absent when its part is empty.
    """
    nll = learner.nll(test)
    if nll is None:
        return {}
    out = {"real_nll": nll, "real_ppl": math.exp(min(nll, 700.0))}  # exp overflows past ~709
    if real is not None:
        for name, part in (
            ("real_nll_seen", [t for t in test if t in real]),
            ("real_nll_unseen", [t for t in test if t not in real]),
        ):
            value = learner.nll(part) if part else None
            if value is not None:
                out[name] = value
    return out


def sample_prompts(cell: Cell, generation: int, real: RealData) -> list[str] | None:
    """Continue mode: each sample's prompt, the first k tokens of a block of the original data R (Shumailov et
    al.; ``bench.text.protocol``); ``None`` in free mode."""
    if cell.scenario.sampling.resolved_mode(not has_verdicts(cell.task)) == "free":
        return None
    from bench.text.protocol import prompts_from_original

    return prompts_from_original(
        cell.task, cell.scenario, list(real.train.texts), cell.sample_count, cell.seed, generation
    )


def reference_learner(cell: Cell, generation: int, learner: Learner):
    """Generation 0's learner (the reference of the text metrics): this one at g = 0, else the shared cache's."""
    if generation == 0:
        return learner
    if cell.reference is None:
        shared = cell.store.generation_zero_dir(generation_zero_key(cell)) / "model"
        cell.reference = cell.scenario.model.load(cell.setup, shared).to(cell.setup.accelerator.device)
    return cell.reference


def step(cell: Cell, generation: int, real: RealData) -> GenerationOutcome | None:
    """Mix, fit, sample, verify, select and score one generation (``None`` off the main process).

    It writes nothing of its own; only a newly fitted generation 0 is published to the store's shared cache.
    """
    s = cell.scenario
    data = data_set_for(cell, generation, real.train)
    split = fit_split(cell, generation, data, real)
    train = split.train
    learner, fit = fitted_learner(cell, generation, train, split.validation)
    if not cell.is_main_process:  # data-parallel helpers only fit; the main process samples, scores and stores
        return None
    learner = learner.to(cell.setup.accelerator.device)

    started = time.perf_counter()
    prompts = sample_prompts(cell, generation, real)
    samples = learner.sample(
        cell.sample_count,
        seed=derive_seed(cell.seed, "sample", generation),
        settings=s.sampling,
        progress=cell.hooks.on_sample,
        **({} if prompts is None else {"prompts": prompts}),
    )
    sample_seconds = time.perf_counter() - started

    analysis = Analysis.of(cell.task, samples)
    # Text has no verdicts: its stored label and reason are empty.
    verdicts = [analysis.verdict(text) for text in samples] if analysis.verdicts is not None else []
    labels = [v.label for v in verdicts] if verdicts else [""] * len(samples)
    context = MitigationContext(verify=analysis.verdict, seed=derive_seed(cell.seed, "mitigate", generation))
    selected, drops = apply_mitigations(s.mitigations, samples, context)

    metrics = analysis.scores(samples, list(real.train.texts), real.meanings, training=train)
    verifiable = has_verdicts(cell.task)  # the text task's T* is document-disjoint from R: no seen part
    metrics.update(held_out_metrics(learner, real.test, frozenset(real.train.texts) if verifiable else None))
    sample_ppl: list[float | None] | None = None
    if not has_verdicts(cell.task):
        text_scores, sample_ppl = score_text(cell, generation, learner, samples, prompts)
        metrics.update(text_scores)
    metrics.update(composition_metrics(data))
    if fit.best_val_loss is not None:
        metrics["val_loss"] = fit.best_val_loss
    if fit.iterations > 0:  # learners that train: the budget actually spent
        metrics["epochs_trained"] = fit.epochs
    metrics["kept_share"] = len(selected) / len(samples) if samples else 0.0
    return GenerationOutcome(
        data=data,
        samples=samples,
        labels=labels,
        reasons=[v.reason for v in verdicts] if verdicts else [""] * len(samples),
        selected=selected,
        drops=drops,
        metrics=metrics,
        fit=fit,
        sample_seconds=sample_seconds,
        learner=learner,
        sample_ppl=sample_ppl,
        sides=split.sides,
        prompts=prompts,
    )


def score_text(
    cell: Cell, generation: int, learner: Learner, samples: list[str], prompts: list[str] | None
) -> tuple[dict[str, float], list[float | None]]:
    """The text metrics: perplexity under the reference scorer (conditional on each prompt), self-BLEU, MAUVE
    against true continuations on the suite's fixed featurizer (``bench.text.protocol``)."""
    from bench.text.metrics import ScoringModel, text_metrics
    from bench.text.protocol import mauve_reference, scoring_model

    s = cell.scenario
    device = cell.setup.accelerator.device
    if s.metrics.reference_model is not None:
        reference = scoring_model(s.metrics.reference_model, device)
    else:
        gen0 = reference_learner(cell, generation, learner)
        reference = ScoringModel(gen0.model, gen0.tokenizer)
    featurizer = scoring_model(s.metrics.features or s.model.pretrained, device) if s.metrics.mauve else None
    return text_metrics(
        reference,
        samples,
        derive_seed(cell.seed, "score", generation),
        prompts=prompts,
        featurizer=featurizer,
        mauve_reference=mauve_reference(cell.task, s, cell.seed),
    )


# -- store -----------------------------------------------------------------------------------------------------


def persist(cell: Cell, generation: int, outcome: GenerationOutcome) -> GenerationRecord:
    """Write one generation's artifacts and return its record; storing the record marks the generation done."""
    s = cell.scenario
    store = cell.store
    directory = cell.directory(generation)
    selected = DataSet.of(outcome.selected, "synthetic")
    cell.carried = (generation, outcome.data, selected)
    cell.history = [*cell.history, selected] if len(cell.history) == generation else []
    data_columns = {"text": outcome.data.texts, "origin": outcome.data.origins}
    if outcome.sides is not None:  # what the model saw, auditable: train / validation per item
        data_columns["split"] = ["validation" if held else "train" for held in outcome.sides]
    write_parquet(directory / "data.parquet", data_columns)
    columns = {"text": outcome.samples, "label": outcome.labels, "reason": outcome.reasons}
    if outcome.prompts is not None:
        columns["prompt"] = outcome.prompts
    if outcome.sample_ppl is not None:
        columns["ppl_ref"] = outcome.sample_ppl
    write_parquet(directory / "samples.parquet", columns)
    write_parquet(directory / "selected.parquet", {"text": outcome.selected})
    checkpoint = None
    if cell.checkpoints != "none" or s.model.warm_start:
        outcome.learner.save(directory / "model")
        checkpoint = store.relative(directory / "model")
    artifacts = folder_digests(directory, store.root)
    return GenerationRecord(
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
        artifacts=artifacts,
    )


def run_generation(cell: Cell, generation: int, real: RealData) -> GenerationRecord | None:
    """Run one generation and write its artifacts (every process fits; the main process samples, scores and
    writes); return the record that marks it done once stored (``None`` off the main process)."""
    directory = cell.directory(generation)
    if cell.is_main_process and directory.exists():  # an unfinished attempt's files: not to be mixed in
        shutil.rmtree(directory)
    outcome = step(cell, generation, real)
    record = None if outcome is None else persist(cell, generation, outcome)
    cell.setup.accelerator.wait_for_everyone()
    return record
