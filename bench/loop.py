"""One generation of one cell (scenario × seed): mix -> train -> sample -> verify -> select -> score -> store.

Each generation reads what it needs from disk (the previous generation's data set and selected samples), so an
uninterrupted run and a resumed one follow the same path and produce the same numbers.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from accelerate import Accelerator
from transformers import PreTrainedModel, PreTrainedTokenizerFast

from bench.config import ResolvedScenario
from bench.metrics import METRICS, score_samples
from bench.mitigations import apply_mitigations
from bench.mitigations.base import MitigationContext
from bench.model import build_model, load_model, save_checkpoint
from bench.regimes import DataSet, RegimeInputs, next_data_set, split
from bench.sample import sample
from bench.seeding import derive_rng, derive_seed
from bench.store import GenerationRecord, Store, read_parquet, write_parquet
from bench.tasks import Task
from bench.train import TrainResult, train


@dataclass
class Hooks:
    """Progress callbacks (the runner draws bars with them); all optional."""

    on_train_start: Callable[[int], None] = lambda total: None
    on_train_step: Callable[[int], None] = lambda iteration: None
    on_sample_start: Callable[[int], None] = lambda total: None
    on_sample_step: Callable[[int], None] = lambda count: None


@dataclass
class Cell:
    """One scenario with one seed inside one run."""

    run_id: str
    suite: str
    scenario: ResolvedScenario
    seed: int
    checkpoints: str
    store: Store
    task: Task
    tokenizer: PreTrainedTokenizerFast
    accelerator: Accelerator
    hooks: Hooks = field(default_factory=Hooks)

    def directory(self, generation: int) -> Path:
        return (
            self.store.root
            / "artifacts"
            / self.run_id
            / self.scenario.name
            / f"seed-{self.seed}"
            / f"gen-{generation:03d}"
        )

    def relative(self, path: Path) -> str:
        return str(path.relative_to(self.store.root))

    @property
    def sample_count(self) -> int:
        return self.scenario.sampling.n or self.scenario.data.size

    @property
    def max_new_tokens(self) -> int:
        return self.scenario.sampling.max_new_tokens or self.task.max_tokens() + 1


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
    return next_data_set(cell.scenario.regime, inputs)


def _generation_zero_key(cell: Cell) -> str:
    """Generation 0 depends only on these settings, so scenarios that share them share its model."""
    s = cell.scenario
    payload = {
        "task": s.task.model_dump(mode="json"),
        "data": s.data.model_dump(mode="json"),
        "model": s.model.model_dump(mode="json", exclude={"init"}),
        "training": s.training.model_dump(mode="json"),
        "seed": cell.seed,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def _train_fresh(cell: Cell, generation: int, train_texts: list[str], val_texts: list[str], init_from: Path | None):
    s = cell.scenario
    if init_from is not None:
        model = load_model(init_from)
    else:
        model = build_model(
            s.model, cell.tokenizer, s.training.block_size, seed=derive_seed(cell.seed, "init", generation)
        )
    cell.hooks.on_train_start(s.training.max_iters)
    result = train(
        model,
        cell.tokenizer,
        train_texts,
        val_texts,
        s.training,
        seed=derive_seed(cell.seed, "train", generation),
        accelerator=cell.accelerator,
        progress=cell.hooks.on_train_step,
    )
    return model, result


def trained_model(
    cell: Cell, generation: int, train_texts: list[str], val_texts: list[str]
) -> tuple[PreTrainedModel, TrainResult]:
    """Train generation ``generation``'s model (generation 0 once per seed and settings, shared by scenarios)."""
    s = cell.scenario
    if generation > 0:
        warm = cell.directory(generation - 1) / "model" if s.model.init == "warm" else None
        return _train_fresh(cell, generation, train_texts, val_texts, warm)

    shared = cell.store.root / "cache" / f"gen0-{_generation_zero_key(cell)}"
    if (shared / "train.json").exists():
        result = TrainResult(**json.loads((shared / "train.json").read_text()))
        return load_model(shared / "model").to(cell.accelerator.device), result
    # Every process trains (DDP needs all of them); the main one publishes the result with an atomic rename. Two
    # shards racing here both train the same deterministic model, and the first rename wins.
    model, result = _train_fresh(cell, generation, train_texts, val_texts, None)
    if cell.accelerator.is_main_process:
        shared.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=shared.parent, prefix=f".{shared.name}-"))
        save_checkpoint(model, cell.tokenizer, staging / "model")
        (staging / "train.json").write_text(json.dumps(asdict(result)))
        try:
            os.rename(staging, shared)
        except OSError:  # another shard published it first
            shutil.rmtree(staging, ignore_errors=True)
    return model, result


def composition_metrics(data: DataSet) -> dict[str, float]:
    return {
        "data_size": float(len(data)),
        "data_real_share": data.share("real"),
        "data_fresh_share": data.share("fresh"),
        "data_synthetic_share": data.share("synthetic"),
    }


# Numbers the loop measures itself (not computed from samples, so not in the METRICS registry), with direction.
LOOP_METRICS: dict[str, bool | None] = {
    "val_loss": False,
    "kept_share": None,
    "data_size": None,
    "data_real_share": None,
    "data_fresh_share": None,
    "data_synthetic_share": None,
}


def higher_is_better(name: str) -> bool | None:
    return METRICS.get(name).higher_is_better if name in METRICS else LOOP_METRICS[name]


def run_generation(cell: Cell, generation: int, real: DataSet) -> None:
    """Run and store one generation; on every process train, on the main process sample, score and store."""
    s = cell.scenario
    data = data_set_for(cell, generation, real)
    train_texts, val_texts = split(data, s.data.validation_fraction, derive_rng(cell.seed, "split", generation))
    model, result = trained_model(cell, generation, train_texts, val_texts)
    if cell.accelerator.is_main_process:
        model = model.to(cell.accelerator.device)
        started = time.perf_counter()
        cell.hooks.on_sample_start(cell.sample_count)
        samples = sample(
            model,
            cell.tokenizer,
            cell.sample_count,
            seed=derive_seed(cell.seed, "sample", generation),
            temperature=s.sampling.temperature,
            top_k=s.sampling.top_k,
            top_p=s.sampling.top_p,
            max_new_tokens=cell.max_new_tokens,
            batch_size=s.sampling.batch_size,
            progress=cell.hooks.on_sample_step,
        )
        sample_seconds = time.perf_counter() - started
        verdicts = [cell.task.verify(text) for text in samples]
        context = MitigationContext(verify=cell.task.verify, seed=derive_seed(cell.seed, "mitigate", generation))
        selected, drops = apply_mitigations(s.mitigations, samples, context)

        metrics = score_samples(
            samples,
            [v.label for v in verdicts],
            depth_of=cell.task.depth,
            reference=real.texts,
            training=train_texts,
        )
        metrics.update(composition_metrics(data))
        metrics["val_loss"] = result.best_val_loss
        metrics["kept_share"] = len(selected) / len(samples) if samples else 0.0

        directory = cell.directory(generation)
        write_parquet(directory / "data.parquet", {"text": data.texts, "origin": data.origins})
        write_parquet(
            directory / "samples.parquet",
            {"text": samples, "label": [v.label for v in verdicts], "reason": [v.reason for v in verdicts]},
        )
        write_parquet(directory / "selected.parquet", {"text": selected})
        checkpoint = None
        if cell.checkpoints != "none" or s.model.init == "warm":
            save_checkpoint(model, cell.tokenizer, directory / "model")
            checkpoint = cell.relative(directory / "model")
        cell.store.record_generation(
            GenerationRecord(
                run_id=cell.run_id,
                suite=cell.suite,
                scenario=s.name,
                seed=cell.seed,
                generation=generation,
                metrics=metrics,
                higher_is_better={name: higher_is_better(name) for name in metrics},
                drops=drops,
                samples_path=cell.relative(directory / "samples.parquet"),
                data_path=cell.relative(directory / "data.parquet"),
                checkpoint_path=checkpoint,
                train_iterations=result.iterations,
                best_val_loss=result.best_val_loss,
                train_seconds=result.seconds,
                sample_seconds=sample_seconds,
                useful_tokens_per_second=result.useful_tokens_per_second,
            )
        )
        # Keep only the newest checkpoint when asked: it is all that resume and warm starts need.
        previous_model = cell.directory(generation - 1) / "model"
        if cell.checkpoints in ("last", "none") and generation > 0 and previous_model.exists():
            shutil.rmtree(previous_model)
    cell.accelerator.wait_for_everyone()
