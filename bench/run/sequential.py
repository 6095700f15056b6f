"""A suite -> cells (scenario × seed) -> generations, with resume and shards.

The run id is a hash of everything that determines the numbers, so rerunning the same suite continues the same
run: finished generations (those with a row in ``generations``) are skipped, the first missing one is redone.
``--shard K/N`` takes every N-th cell starting at the K-th; shards may share a results directory (the store
serialises writes) or use their own and be merged with ``bench merge``.
"""

from __future__ import annotations

import os
import platform
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from bench.device import make_accelerator
from bench.learners import LearnerSetup
from bench.records import GenerationRecord
from bench.run.loop import Cell, Hooks, prune_checkpoints, real_data, run_generation
from bench.run.progress import GenerationReporter
from bench.store.database import Store
from bench.store.errors import StoreError
from bench.store.integrity import resume_point
from bench.suite.config import Suite, first_difference, suite_hash
from bench.tasks import get_task

PACKAGES = (
    "torch",
    "transformers",
    "accelerate",
    "tokenizers",
    "duckdb",
    "rapidfuzz",
    "pydantic",
    "collapse-bench",
)


@dataclass(frozen=True)
class Shard:
    """Cells i with i % count == index - 1 (1-based ``index``, as in ``--shard 2/4``)."""

    index: int = 1
    count: int = 1

    @classmethod
    def parse(cls, text: str) -> Shard:
        try:
            index_text, count_text = text.split("/")
            index, count = int(index_text), int(count_text)
        except ValueError:
            raise ValueError(f"--shard must look like K/N (e.g. 1/4), got {text!r}") from None
        if not (count >= 1 and 1 <= index <= count):
            raise ValueError(f"--shard K/N needs 1 <= K <= N, got {text!r}")
        return cls(index, count)

    def owns(self, position: int) -> bool:
        return position % self.count == self.index - 1


class Recorder:
    """Stores finished generations in batches: at most one transaction every ``interval`` seconds.

    A generation of a neural learner takes seconds or more, so each is stored as soon as it ends; the empirical
    learner finishes hundreds a second, and one DuckDB connection per generation would dominate its run. A crash
    loses at most ``interval`` seconds of finished generations, which resume redoes with identical numbers.
    """

    def __init__(self, store: Store, interval: float = 2.0) -> None:
        self.store = store
        self.interval = interval
        self.pending: list[tuple[GenerationRecord, Cell]] = []
        self.last_flush = time.perf_counter()
        self.broken = False

    def add(self, record: GenerationRecord, cell: Cell) -> None:
        self.pending.append((record, cell))
        if time.perf_counter() - self.last_flush >= self.interval:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            try:
                self.store.record_generations([record for record, _ in self.pending])
            except BaseException:
                self.broken = True  # the store failed, not a cell: the run stops
                raise
            for record, cell in self.pending:  # only now may older checkpoints go
                prune_checkpoints(cell, record.generation)
            self.pending = []
        self.last_flush = time.perf_counter()


class SettingsMismatchError(ValueError):
    """The results directory already holds this suite under other settings; mixing them would be silent."""


class Terminated(BaseException):
    """SIGTERM arrived: stop like Ctrl-C (finished generations are kept; a rerun resumes)."""


@contextmanager
def terminate_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM (a scheduler's preemption, ``kill``) into :class:`Terminated` while a run is in progress."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise Terminated("SIGTERM")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@dataclass(frozen=True)
class CellFailure:
    """A cell that failed at run time: where and why (its finished generations are kept)."""

    scenario: str
    seed: int
    generation: int
    error: str

    def describe(self) -> str:
        return f"{self.scenario} seed {self.seed} failed at generation {self.generation}: {self.error}"


def fail_cell(store: Store, run_id: str, scenario: str, seed: int, generation: int, error: Exception) -> CellFailure:
    """Record a failed cell (table ``failures``) so the others go on and the run ends with exit 1 naming it."""
    message = " ".join(f"{type(error).__name__}: {error}".split())  # one line
    store.record_failure(run_id, scenario, seed, generation, message)
    return CellFailure(scenario, seed, generation, message)


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    cells: int
    generations_run: int
    generations_skipped: int
    seconds: float
    finished: bool
    main_process: bool = True
    failed: tuple[CellFailure, ...] = field(default_factory=tuple)
    redone: tuple[str, ...] = field(default_factory=tuple)  # why finished generations were redone


def git_commit() -> str | None:
    """The checkout's HEAD; else BENCH_GIT_COMMIT, which the container image records at build time (no .git)."""
    recorded = os.environ.get("BENCH_GIT_COMMIT", "").strip() or None
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=Path(__file__).parent
        )
    except (OSError, subprocess.TimeoutExpired):
        return recorded
    return (out.stdout.strip() or recorded) if out.returncode == 0 else recorded


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


# How far back the cells and generations bars look for their rate: the whole run.
SPEED_WINDOW_SECONDS = 7 * 24 * 3600.0


class StepBar:
    """The fitting / sampling bar: restarted (its elapsed time with it) at each new fit or sampling pass, so it shows
    that pass's own time, not the run's."""

    def __init__(self, progress: Progress, task_id: Any) -> None:
        self.progress = progress
        self.task_id = task_id
        self.phase = ""
        self.last = -1

    def update(self, phase: str, done: int, total: int, info: str) -> None:
        if phase != self.phase or done < self.last:
            self.progress.reset(self.task_id, total=total, completed=0, description=phase)
            self.phase = phase
        self.last = done
        self.progress.update(self.task_id, completed=done, total=total, description=phase, info=info)


def generation_zero_cached(cell: Cell) -> bool:
    """Whether generation 0 of ``cell`` will come from the shared cache (another scenario fitted it already)."""
    from bench.run.loop import generation_zero_key

    return cell.store.generation_zero_dir(generation_zero_key(cell)).exists()


def describe_device(device: torch.device, processes: int = 1) -> str:
    if device.type == "cuda":
        name = f"cuda: {torch.cuda.get_device_name(device)}"
    else:
        name = f"cpu: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    return f"{name} × {processes} processes" if processes > 1 else name


def check_settings(store: Store, suite: Suite, config: dict) -> None:
    """Refuse to add a run of ``suite`` to a results directory that holds it under other settings.

    The run id covers every setting, so a changed setting (a changed code default included) makes a new run id; the
    leaderboard, the report and the gate would then mix two versions of one suite. Raises naming the first field.
    """
    if not store.exists():
        return
    for run in store.runs():
        if run.suite != suite.suite:
            continue
        stored = run.settings()
        differs = first_difference(stored, config)
        if differs is not None and differs.startswith("inputs."):
            changed = differs.removeprefix("inputs.")
            what = "is new" if changed not in stored.get("inputs", {}) else "changed"
            if changed not in config.get("inputs", {}):
                what = "is gone"
            raise SettingsMismatchError(
                f"{changed}: input file {what} since run {run.run_id} of suite {suite.suite!r} was recorded in "
                f"{store.root}; restore it, or use a new --results directory for the new input"
            )
        if differs is not None:
            raise SettingsMismatchError(
                f"{store.root}: suite {suite.suite!r} already has run {run.run_id} there with different settings "
                f"(first difference: {differs}); use a new --results directory"
            )


def check_written_paths(store: Store, run_id: str) -> None:
    """Before any work: every file a run writes beside the database must not be a planted link, folder or FIFO
    (``bench.safe_io``); the writes check again, but a refusal here comes before a generation is spent."""
    from bench.run.progress import log_path
    from bench.safe_io import check_plain_file

    for path in (
        store.lock_path,
        log_path(store.root, run_id),
        store.results_json(run_id),
        store.root / ".parallel-check",
    ):  # CHECK_FILE of bench.run.parallel
        check_plain_file(path)


def open_run(store: Store, suite: Suite, suite_path: str | Path, config: dict, device: str) -> None:
    """Record the run (or mark it running again) with its provenance: both run paths, sequential and parallel."""
    from bench.run.provenance import git_state

    state = git_state()
    store.begin_run(
        run_id=suite.run_id(),
        suite=suite.suite,
        suite_path=str(suite_path),
        suite_hash=suite_hash(suite_path),
        config=config,
        baseline=suite.baseline_name(),
        git_commit=git_commit(),
        packages=package_versions(),
        device=device,
        git_dirty=state.dirty,
        git_diff_sha256=state.diff_sha256,
    )


def write_results_json(store: Store, run_id: str) -> None:
    """The finished run's lm-eval style results JSON beside the database (``bench.analysis.results_json``)."""
    from bench.analysis.results_json import document_for_run, save

    run = store.run(run_id)
    if run is None:
        raise ValueError(f"run {run_id} is not recorded in {store.database}")
    save(store.results_json(run_id), document_for_run(run, store.metric_rows(run_id)))


def close_run(store: Store, run_id: str, expected: int, console: Console) -> bool:
    """Mark the run finished when all ``expected`` generations are stored, then write its results JSON (both run
    paths, sequential and parallel, end here). Returns whether the run is finished."""
    finished = store.finish_run(run_id, expected)
    if finished:
        try:
            write_results_json(store, run_id)
        except (OSError, ValueError) as error:  # the run's numbers are stored; only the summary file is missing
            console.print(f"bench: note: results JSON not written: {error}")
    return finished


def run_suite(
    suite: Suite,
    suite_path: str | Path,
    results: str | Path = "results",
    shard: Shard = Shard(),
    console: Console | None = None,
    show_progress: bool = True,
) -> RunSummary:
    """Run (or resume) every cell of this shard; return what was done."""
    console = console or Console(stderr=True)
    started = time.perf_counter()
    store = Store(results)
    run_id = suite.run_id()
    accelerator = make_accelerator(suite.training.precision)
    resolved = suite.resolved_scenarios()
    config = suite.resolved_config()
    check_settings(store, suite, config)
    check_written_paths(store, run_id)
    if accelerator.is_main_process:
        open_run(store, suite, suite_path, config, describe_device(accelerator.device, accelerator.num_processes))
    accelerator.wait_for_everyone()

    all_cells = [(scenario, seed) for scenario in resolved for seed in suite.seeds]
    cells = [cell for position, cell in enumerate(all_cells) if shard.owns(position)]
    ran = skipped = 0
    # Bars on a terminal; off one (SLURM, nohup, CI) one plain line per generation instead. The log always.
    watched = show_progress and accelerator.is_main_process
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[info]}"),
        console=console,
        disable=not (watched and console.is_terminal),
        transient=False,
        # Time left from the mean rate since the start: a cell or generation takes longer than rich's default
        # 30-second window, which would leave "-:--:--" for the whole run.
        speed_estimate_period=SPEED_WINDOW_SECONDS,
    )
    if accelerator.is_main_process:
        store.remove_leftovers()  # an interrupted process's temporary files and staging folders
    records_by_cell = store.generation_records(run_id)
    failed_before = {(scenario, seed) for scenario, seed, _, _ in store.failures(run_id)}
    reporter = GenerationReporter(
        results,
        run_id,
        suite.generations,
        total=len(cells) * suite.generations,
        stream=console.file if watched and not console.is_terminal else None,
    )
    recorder = Recorder(store)
    failures: list[CellFailure] = []
    redone: list[str] = []
    try:
        with terminate_on_sigterm(), progress:
            cell_bar = progress.add_task("cells", total=len(cells), info="")
            generation_bar = progress.add_task("generations", total=suite.generations, info="")
            step_bar = progress.add_task("  fitting", total=1, info="")
            step = StepBar(progress, step_bar)
            hooks = Hooks(
                on_fit=lambda done, total, loss=None: step.update(
                    "  fitting", done, total, "" if loss is None else f"loss {loss:.3f}"
                ),
                on_sample=lambda done, total, loss=None: step.update("  sampling", done, total, ""),
            )
            for scenario, seed in cells:
                progress.update(cell_bar, description=f"cells ({scenario.name}, seed {seed})")
                progress.reset(generation_bar, total=suite.generations)
                records = records_by_cell.get((scenario.name, seed), {})
                generation = 0
                try:
                    task = get_task(scenario.task.name, **scenario.task.params)
                    cell = Cell(
                        run_id=run_id,
                        suite=suite.suite,
                        scenario=scenario,
                        seed=seed,
                        checkpoints=suite.checkpoints,
                        store=store,
                        setup=LearnerSetup(task=task, training=scenario.training, accelerator=accelerator),
                        hooks=hooks,
                        generations=suite.generations,
                    )
                    point = resume_point(
                        store, run_id, scenario.name, seed, records, suite.generations, scenario.model.warm_start
                    )
                    if any(g >= point.generation for g in records):
                        if accelerator.is_main_process:
                            store.invalidate(run_id, scenario.name, seed, point.generation)
                        redone.append(
                            f"{scenario.name} seed {seed}: redoing from generation {point.generation}, {point.reason}"
                        )
                        console.print(f"bench: {redone[-1]}", markup=False, highlight=False)
                    done = {g for g in records if g < point.generation}
                    real = real_data(cell) if len(done) < suite.generations else None
                    for generation in range(suite.generations):
                        if generation in done:
                            skipped += 1
                            reporter.skipped()
                        else:
                            cached = generation == 0 and generation_zero_cached(cell)
                            record = run_generation(cell, generation, real)
                            if record is not None:
                                recorder.add(record, cell)
                                reporter.finished(record, cached=cached)
                            ran += 1
                        progress.advance(generation_bar)
                        progress.update(cell_bar, info=f"suite ETA {reporter.eta_text()}")
                    if accelerator.is_main_process and (scenario.name, seed) in failed_before:
                        recorder.flush()
                        store.clear_failure(run_id, scenario.name, seed)  # it failed before; now it is done
                except StoreError:
                    raise  # the results directory itself: no later cell could be stored either
                except Exception as error:  # noqa: BLE001 - any run-time failure of one cell must not stop the others
                    if recorder.broken:
                        raise
                    recorder.flush()  # keep the generations this cell did finish
                    if accelerator.is_main_process:
                        failures.append(fail_cell(store, run_id, scenario.name, seed, generation, error))
                progress.advance(cell_bar)
    finally:
        recorder.flush()  # what finished is kept, also on Ctrl-C, SIGTERM or an error in a later cell

    finished = False
    if accelerator.is_main_process:
        finished = close_run(store, run_id, len(all_cells) * suite.generations, console)
    return RunSummary(
        run_id=run_id,
        cells=len(cells),
        generations_run=ran,
        generations_skipped=skipped,
        seconds=time.perf_counter() - started,
        finished=finished,
        main_process=accelerator.is_main_process,
        failed=tuple(failures),
        redone=tuple(redone),
    )
