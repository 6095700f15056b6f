"""One run of a suite, whichever driver schedules its cells: the plan, the writes, the failures and the summary.

Two drivers run a suite's cells (scenario × seed): :mod:`bench.run.sequential` one after another in this process,
:mod:`bench.run.parallel` on Ray workers. They differ only in *where and when* a cell runs; everything else about a
run lives here, once, so the two cannot drift apart:

* :class:`RunPlan`, computed once before anything is written: the suite resolved once (run id, settings,
  scenarios), this shard's cells, which of their generations are done and still check out (resume), and each cell's
  generation-0 cache key. A :class:`CellPlan` carries all a worker needs to run one cell.
* :class:`RunSession`, the run's life in the results directory: opening it (provenance, leftovers, redoing damaged
  generations), storing finished generations in batches (:class:`Recorder`), the per-generation log lines, a failed
  cell (:class:`CellFailure`, one printed format for both drivers), closing it and the :class:`RunSummary`.

The cells themselves run through :func:`make_cell` and ``bench.run.loop.run_generation`` in both drivers. This
module imports neither torch nor Ray: ``bench validate`` and the Ray driver import it before any of that is needed.
"""

from __future__ import annotations

import shutil
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from bench.records import GenerationRecord
from bench.store.database import Store
from bench.suite.config import ResolvedScenario, Suite, first_difference, suite_hash

if TYPE_CHECKING:
    from bench.run.loop import Cell, Hooks

# Finished generations are stored at most this many seconds apart: one DuckDB transaction per batch.
FLUSH_SECONDS = 2.0
# The file through which Ray workers prove they see the driver's results directory (bench.run.parallel).
CHECK_FILE = ".parallel-check"


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


# -- the plan ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CellPlan:
    """One cell of a run and what is left of it: everything needed to run it, on this process or a worker."""

    run_id: str
    suite: str
    scenario: ResolvedScenario
    seed: int
    generations: int
    checkpoints: str
    done: frozenset[int]  # stored generations whose files still check out: skipped
    generation_zero_key: str  # the shared generation-0 cache folder (bench.run.loop.generation_zero_key)
    failed_before: bool = False  # a failure is recorded for it: cleared once it completes
    redo_from: int | None = None  # stored generations from here on are redone (their inputs do not check out) ...
    redo: str | None = None  # ... and why: "redoing from generation G, REASON"

    @property
    def name(self) -> str:
        return f"{self.scenario.name} seed {self.seed}"

    @property
    def todo(self) -> list[int]:
        return [g for g in range(self.generations) if g not in self.done]

    def directory(self, store: Store, generation: int) -> Path:
        return store.generation_dir(self.run_id, self.scenario.name, self.seed, generation)


@dataclass(frozen=True)
class RunPlan:
    """What one run of a suite does, computed once before anything is written (both drivers use it)."""

    suite: Suite
    suite_path: str
    run_id: str
    config: dict[str, Any]  # every setting, resolved (what the store records; the run id hashes it)
    total_cells: int  # over every shard: the run is finished when all of theirs are stored
    cells: tuple[CellPlan, ...]  # this shard's, in suite order

    @classmethod
    def make(cls, suite: Suite, suite_path: str | Path, store: Store, shard: Shard = Shard()) -> RunPlan:
        """Resolve the suite once, refuse what would mix or write through links, and plan each cell's resume.

        Reads only: nothing is written (that is :meth:`RunSession.open`), so bad input still leaves no trace.
        Raises :class:`SettingsMismatchError` or ``bench.safe_io.UnsafePathError``.
        """
        from bench.run.loop import generation_zero_key_of
        from bench.store.integrity import resume_point

        scenarios = suite.resolved_scenarios()
        config = suite.resolved_config(scenarios)
        run_id = suite.run_id(config)
        check_settings(store, suite, config)
        check_written_paths(store, run_id)
        grid = [(scenario, seed) for scenario in scenarios for seed in suite.seeds]
        records_by_cell = store.generation_records(run_id)
        failed_before = {(scenario, seed) for scenario, seed, _, _ in store.failures(run_id)}
        cells = []
        for scenario, seed in (cell for position, cell in enumerate(grid) if shard.owns(position)):
            # A cell resumes where its recorded inputs still check out (bench.store.integrity): a damaged or changed
            # input makes that generation and the later ones unfinished, so they are redone with the same numbers.
            records = records_by_cell.get((scenario.name, seed), {})
            point = resume_point(
                store, run_id, scenario.name, seed, records, suite.generations, scenario.model.warm_start
            )
            redo_from = point.generation if any(g >= point.generation for g in records) else None
            cells.append(
                CellPlan(
                    run_id=run_id,
                    suite=suite.suite,
                    scenario=scenario,
                    seed=seed,
                    generations=suite.generations,
                    checkpoints=suite.checkpoints,
                    done=frozenset(g for g in records if g < point.generation),
                    generation_zero_key=generation_zero_key_of(scenario, seed),
                    failed_before=(scenario.name, seed) in failed_before,
                    redo_from=redo_from,
                    redo=None if redo_from is None else f"redoing from generation {redo_from}, {point.reason}",
                )
            )
        return cls(suite, str(suite_path), run_id, config, len(grid), tuple(cells))

    @property
    def generations(self) -> int:
        return self.suite.generations

    @property
    def expected_generations(self) -> int:
        """Generations stored when every shard's cells are complete."""
        return self.total_cells * self.suite.generations

    @property
    def skipped(self) -> int:
        return sum(len(cell.done) for cell in self.cells)

    @property
    def todo(self) -> int:
        """Generations this run (this shard) has to run."""
        return sum(len(cell.todo) for cell in self.cells)


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

    for path in (store.lock_path, log_path(store.root, run_id), store.results_json(run_id), store.root / CHECK_FILE):
        check_plain_file(path)


def make_cell(plan: CellPlan, store: Store, accelerator: Any, hooks: Hooks | None = None) -> Cell:
    """The loop's ``Cell`` for ``plan`` on this process (the driver's in a sequential run, a worker's on Ray)."""
    from bench.learners import LearnerSetup
    from bench.run.loop import Cell, Hooks
    from bench.tasks import get_task

    task = get_task(plan.scenario.task.name, **plan.scenario.task.params)
    return Cell(
        run_id=plan.run_id,
        suite=plan.suite,
        scenario=plan.scenario,
        seed=plan.seed,
        checkpoints=plan.checkpoints,
        store=store,
        setup=LearnerSetup(task=task, training=plan.scenario.training, accelerator=accelerator),
        hooks=hooks or Hooks(),
        generations=plan.generations,
    )


def prune_checkpoints(store: Store, cell: CellPlan, stored: int) -> None:
    """Once generation ``stored`` of ``cell`` is stored, keep only the checkpoints the settings ask for.

    ``checkpoints: last`` keeps the newest only (all that resume and warm starts read); ``none`` kept the newest only
    for a warm start, and after the cell's last generation nothing reads it. Never called before the generation is
    stored: until then a resume redoes it from the previous checkpoint.
    """
    if cell.checkpoints not in ("last", "none"):
        return
    keep_from = stored + 1 if cell.checkpoints == "none" and stored == cell.generations - 1 else stored
    for generation in range(keep_from):
        model = cell.directory(store, generation) / "model"
        if model.exists():
            shutil.rmtree(model)


# -- the run in the results directory ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CellFailure:
    """A cell that failed at run time: where and why (its finished generations are kept)."""

    scenario: str
    seed: int
    generation: int
    error: str  # one line: "Type: message"

    def describe(self) -> str:
        """The one line both drivers end a run with (after ``bench: error: ``), exit code 1."""
        return f"cell {self.scenario} seed {self.seed} failed at generation {self.generation}: {self.error}"


def error_line(error: BaseException) -> str:
    """``Type: message`` on one line: what the failures table records and the run prints."""
    return " ".join(f"{type(error).__name__}: {error}".split())


@dataclass(frozen=True)
class RunSummary:
    """What a run did, whichever driver ran it."""

    run_id: str
    cells: int
    generations_run: int
    generations_skipped: int
    seconds: float
    finished: bool
    main_process: bool = True  # under a multi-process launch only the main process reports
    failed: tuple[CellFailure, ...] = ()
    redone: tuple[str, ...] = ()  # why stored generations were redone, one line per cell
    # Where the time went, for the parallel speed-up's limits (docs/parallel.md): starting the workers (Ray);
    # from the start of the run to the first cell starting; the longest cell from its start to its end.
    startup_seconds: float = 0.0
    first_cell_seconds: float = 0.0
    slowest_cell_seconds: float = 0.0


class Recorder:
    """Stores finished generations in batches: at most one transaction every ``interval`` seconds.

    A generation of a neural learner takes seconds or more, so each is stored as soon as it ends; the empirical
    learner finishes hundreds a second, and one DuckDB connection per generation would dominate its run. A crash
    loses at most ``interval`` seconds of finished generations, which resume redoes with identical numbers.

    Older checkpoints go once a generation is stored, or (``prune_at_cell_end``, the Ray driver) only once its whole
    cell is: a retried Ray worker redoes a cell's generations from where its task began, reading any of them.
    """

    def __init__(self, store: Store, interval: float = FLUSH_SECONDS, prune_at_cell_end: bool = False) -> None:
        self.store = store
        self.interval = interval
        self.prune_at_cell_end = prune_at_cell_end
        self.pending: list[tuple[GenerationRecord, CellPlan]] = []
        self.last_flush = time.perf_counter()
        self.broken = False

    def add(self, record: GenerationRecord, cell: CellPlan) -> None:
        self.pending.append((record, cell))
        if self.due():
            self.flush()

    def due(self) -> bool:
        return time.perf_counter() - self.last_flush >= self.interval

    def flush(self) -> None:
        if self.pending:
            try:
                self.store.record_generations([record for record, _ in self.pending])
            except BaseException:
                self.broken = True  # the store failed, not a cell: the run stops
                raise
            if not self.prune_at_cell_end:
                for record, cell in self.pending:  # only now may older checkpoints go
                    prune_checkpoints(self.store, cell, record.generation)
            self.pending = []
        self.last_flush = time.perf_counter()

    def cell_done(self, cell: CellPlan) -> None:
        """``cell`` has run its last generation: with pruning at cell end, store it and prune."""
        if self.prune_at_cell_end:
            self.flush()  # the cell's last records are stored before its older checkpoints go
            prune_checkpoints(self.store, cell, cell.generations - 1)


class RunSession:
    """One run's writes and counts: both drivers call these as their cells start, store, fail and end.

    Only the main process writes (under a multi-process launch the others fit and hand nothing back). The driver
    opens the session once the run may start (:meth:`open`), reports each finished generation (:meth:`stored`), each
    cell's end (:meth:`cell_done`) or failure (:meth:`cell_failed`), and :meth:`close` returns the summary.
    """

    def __init__(
        self,
        plan: RunPlan,
        store: Store,
        console: Console,
        show_progress: bool = True,
        main_process: bool = True,
        prune_at_cell_end: bool = False,
        started: float | None = None,
    ) -> None:
        from bench.run.progress import GenerationReporter

        self.plan = plan
        self.store = store
        self.console = console
        self.main_process = main_process
        self.started = time.perf_counter() if started is None else started
        self.recorder = Recorder(store, prune_at_cell_end=prune_at_cell_end)
        # One line per stored generation in RESULTS/logs/RUN_ID.log, and on stderr when it is not a terminal (a
        # terminal shows the driver's live view instead).
        self.reporter = GenerationReporter(
            store.root,
            plan.run_id,
            plan.generations,
            total=plan.todo,
            stream=console.file if show_progress and main_process and not console.is_terminal else None,
        )
        self.ran = 0
        self.failures: list[CellFailure] = []
        self.startup_seconds = 0.0
        self.first_start: float | None = None
        self.cell_starts: dict[tuple[str, int], float] = {}
        self.slowest = 0.0

    def open(self, device: str) -> None:
        """Record the run (or mark it running again) with its provenance, remove an interrupted process's leftovers,
        and drop the rows and files of generations the plan redoes (saying why)."""
        if not self.main_process:
            return
        from bench.run.provenance import git_commit, git_state, package_versions

        plan, store = self.plan, self.store
        state = git_state()
        store.begin_run(
            run_id=plan.run_id,
            suite=plan.suite.suite,
            suite_path=plan.suite_path,
            suite_hash=suite_hash(plan.suite_path),
            config=plan.config,
            baseline=plan.suite.baseline_name(),
            git_commit=git_commit(),
            packages=package_versions(),
            device=device,
            git_dirty=state.dirty,
            git_diff_sha256=state.diff_sha256,
        )
        store.remove_leftovers()  # an interrupted process's temporary files and staging folders
        for cell in plan.cells:
            if cell.redo_from is not None:
                store.invalidate(plan.run_id, cell.scenario.name, cell.seed, cell.redo_from)
                self.console.print(f"bench: {cell.name}: {cell.redo}", markup=False, highlight=False)

    def cell_started(self, cell: CellPlan, at: float | None = None) -> None:
        """``cell`` began running, at ``at`` (``time.perf_counter()``; default: now)."""
        now = time.perf_counter() if at is None else at
        self.cell_starts[(cell.scenario.name, cell.seed)] = now
        self.first_start = self.first_start or now

    def stored(self, record: GenerationRecord | None, cell: CellPlan, cached: bool = False) -> None:
        """One generation of ``cell`` ran (``record`` ``None`` off the main process); ``cached``: its generation 0
        came from the shared cache, so it took no training."""
        self.ran += 1
        if record is not None:
            self.recorder.add(record, cell)
            self.reporter.finished(record, cached=cached)

    def cell_done(self, cell: CellPlan) -> None:
        self._cell_ended(cell)
        self.recorder.cell_done(cell)
        if self.main_process and cell.failed_before:
            self.recorder.flush()
            self.store.clear_failure(self.plan.run_id, cell.scenario.name, cell.seed)  # failed before; done now

    def cell_failed(self, cell: CellPlan, generation: int, error: str) -> CellFailure:
        """Record a failed cell (table ``failures``) so the others go on and the run ends with exit 1 naming it."""
        self._cell_ended(cell)
        self.recorder.flush()  # keep the generations this cell did finish
        failure = CellFailure(cell.scenario.name, cell.seed, generation, error)
        if self.main_process:
            self.store.record_failure(self.plan.run_id, cell.scenario.name, cell.seed, generation, error)
            self.failures.append(failure)
        return failure

    def _cell_ended(self, cell: CellPlan) -> None:
        began = self.cell_starts.pop((cell.scenario.name, cell.seed), None)
        if began is not None:
            self.slowest = max(self.slowest, time.perf_counter() - began)

    def close(self) -> RunSummary:
        """Mark the run finished when every shard's generations are stored, then write its results JSON."""
        self.recorder.flush()
        finished = False
        if self.main_process:
            finished = self.store.finish_run(self.plan.run_id, self.plan.expected_generations)
            if finished:
                try:
                    write_results_json(self.store, self.plan.run_id)
                except (OSError, ValueError) as error:  # the numbers are stored; only the summary file is missing
                    self.console.print(f"bench: note: results JSON not written: {error}")
        return RunSummary(
            run_id=self.plan.run_id,
            cells=len(self.plan.cells),
            generations_run=self.ran,
            generations_skipped=self.plan.skipped,
            seconds=time.perf_counter() - self.started,
            finished=finished,
            main_process=self.main_process,
            failed=tuple(self.failures),
            redone=tuple(f"{cell.name}: {cell.redo}" for cell in self.plan.cells if cell.redo is not None),
            startup_seconds=self.startup_seconds,
            first_cell_seconds=0.0 if self.first_start is None else self.first_start - self.started,
            slowest_cell_seconds=self.slowest,
        )


def write_results_json(store: Store, run_id: str) -> None:
    """The finished run's lm-eval style results JSON beside the database (``bench.analysis.results_json``)."""
    from bench.analysis.results_json import document_for_run, save

    run = store.run(run_id)
    if run is None:
        raise ValueError(f"run {run_id} is not recorded in {store.database}")
    save(store.results_json(run_id), document_for_run(run, store.metric_rows(run_id)))
