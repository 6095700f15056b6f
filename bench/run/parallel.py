"""Cells in parallel on Ray: ``bench run --workers N`` (a local Ray instance) or ``--ray ADDRESS`` (a cluster).

The schedule (docs/design.md §1, "Parallel runs"):

* Generation 0 of each (seed, shared settings) is one Ray task: it fits the shared learner and publishes it to the
  results directory's cache (``RESULTS/cache/gen0-KEY/``). Every cell that still needs generation 0 takes that
  task's ObjectRef as an argument, so Ray starts the cell only once the learner is there: it is trained exactly once
  and no worker waits on a lock.
* Each cell is one Ray generator task that runs its generations in order (as the sequential runner does, reading its
  inputs from the results directory) and yields each generation's record as it finishes.
* Only the driver writes DuckDB: it waits on the cells' generators with ``ray.wait`` and stores records as they
  arrive (batched at most 2 s apart, as the sequential ``Recorder``), so a driver crash loses little; resume is the
  sequential one (a generation is done exactly when its row is stored).

Ray is imported only here, and this module only when ``--workers`` or ``--ray`` is given.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import re
import shutil
import socket
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bench.records import GenerationRecord
from bench.safe_io import write_atomic
from bench.store.database import Store
from bench.suite.config import ResolvedScenario, Suite

if TYPE_CHECKING:
    from bench.run.sequential import Shard

# A worker process that dies (killed, out of memory, node lost) is retried this many times; an exception raised by
# the cell's own code is not retried: the same seed would raise it again. Documented in docs/parallel.md.
MAX_RETRIES = 2
# The driver stores finished generations at most this many seconds apart (one DuckDB transaction per batch).
FLUSH_SECONDS = 2.0
# The file through which workers prove they see the driver's results directory.
CHECK_FILE = ".parallel-check"
# A custom resource of the local Ray instance that --workers starts: N of them, one per cell or generation-0 task.
SLOT = "bench_cell_slot"
_ADDRESS = re.compile(r"^(ray://)?(\[[0-9A-Fa-f:]+\]|[A-Za-z0-9][A-Za-z0-9.\-]*):(\d{1,5})$")


class ResultsNotVisibleError(RuntimeError):
    """A worker cannot see the results directory: it must be on storage that every node mounts at the same path."""


class ClusterMismatchError(ValueError):
    """The Ray cluster cannot serve the options given (unreachable, or a cell asks for more than it has)."""


class ParallelRunError(RuntimeError):
    """The parallel run cannot go on (e.g. a worker cannot see the results directory)."""


# -- options ----------------------------------------------------------------------------------------------------


def _positive_number(option: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{option} must be a number, got {text!r}") from None
    if not value > 0 or value != value or value == float("inf"):
        raise ValueError(f"{option} must be greater than 0, got {text!r}")
    # Ray accepts fractions of one unit (0.25 GPU) or whole units (2 GPUs), not 1.5.
    if value > 1 and value != int(value):
        raise ValueError(f"{option} must be at most 1 or a whole number (Ray's rule for resources), got {text!r}")
    return value


@dataclass(frozen=True)
class ParallelOptions:
    """What the user asked for: how many cells at once (or which cluster), and what one cell takes."""

    workers: int | None = None
    address: str | None = None
    cell_cpus: float = 1.0
    cell_gpus: float = 0.0
    max_retries: int = MAX_RETRIES

    @property
    def enabled(self) -> bool:
        return self.workers is not None or self.address is not None

    @property
    def torch_threads(self) -> int:
        """torch's thread count inside a cell: its CPU share (at least one thread)."""
        return max(1, int(self.cell_cpus))

    @classmethod
    def parse(
        cls, workers: str | None, address: str | None, cell_cpus: str | None, cell_gpus: str | None
    ) -> ParallelOptions:
        """From the command line's text; ValueError with one line naming the option and value otherwise."""
        count = None
        if workers is not None:
            try:
                count = int(workers)
            except ValueError:
                raise ValueError(f"--workers must be a whole number of cells at once, got {workers!r}") from None
            if count < 1:
                raise ValueError(f"--workers must be at least 1, got {workers!r}")
        if address is not None and address != "auto":
            match = _ADDRESS.match(address)
            if match is None or not 1 <= int(match.group(3)) <= 65535:
                raise ValueError(f"--ray must be 'auto', HOST:PORT or ray://HOST:PORT, got {address!r}")
        if count is not None and address is not None:
            raise ValueError("give --workers (a local Ray instance) or --ray ADDRESS (a cluster), not both")
        cpus = 1.0 if cell_cpus is None else _positive_number("--cell-cpus", cell_cpus)
        gpus = 0.0
        if cell_gpus is not None:
            gpus = 0.0 if cell_gpus.strip() in ("0", "0.0") else _positive_number("--cell-gpus", cell_gpus)
        if (cell_cpus is not None or cell_gpus is not None) and count is None and address is None:
            raise ValueError("--cell-cpus and --cell-gpus need --workers N or --ray ADDRESS")
        return cls(workers=count, address=address, cell_cpus=cpus, cell_gpus=gpus)

    def resources(self) -> dict[str, float]:
        """Ray's resource request of one cell (and of one generation-0 task)."""
        return {"num_cpus": self.cell_cpus, "num_gpus": self.cell_gpus}

    def describe(self) -> str:
        where = (
            f"up to {self.workers} at once on a local Ray instance"
            if self.workers is not None
            else f"on the Ray cluster at {self.address}"
            if self.address is not None
            else "one after another (sequential; --workers N or --ray ADDRESS runs them in parallel)"
        )
        return f"each cell takes {self.cell_cpus:g} CPU and {self.cell_gpus:g} GPU, {where}"


# -- the plan ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CellSpec:
    """Everything a worker needs to run one cell (pickled to it; the suite file need not be visible there)."""

    run_id: str
    suite: str
    scenario: ResolvedScenario
    seed: int
    generations: int
    checkpoints: str
    precision: str
    results: str
    done: frozenset[int]
    torch_threads: int
    token: str

    @property
    def name(self) -> str:
        return f"{self.scenario.name}/seed-{self.seed}"


@dataclass(frozen=True)
class _KeyView:
    """The two fields of a loop ``Cell`` that ``generation_zero_key`` reads."""

    scenario: ResolvedScenario
    seed: int


def generation_zero_groups(suite: Suite) -> dict[tuple[str, int], str]:
    """The generation-0 cache key of every (scenario, seed) of the suite: cells with one key share one task."""
    from bench.run.loop import generation_zero_key

    return {
        (scenario.name, seed): generation_zero_key(_KeyView(scenario, seed))  # type: ignore[arg-type]
        for scenario in suite.resolved_scenarios()
        for seed in suite.seeds
    }


def count_generation_zero_tasks(suite: Suite) -> int:
    """How many distinct generation-0 fits a fresh run of the suite makes (what ``bench validate`` reports)."""
    return len(set(generation_zero_groups(suite).values()))


# -- on the workers ---------------------------------------------------------------------------------------------


def _worker_cell(spec: CellSpec):
    """A loop ``Cell`` on this worker, after checking that the driver's results directory is the one seen here."""
    import torch

    from bench.device import make_accelerator
    from bench.learners import LearnerSetup
    from bench.run.loop import Cell
    from bench.tasks import get_task

    check = Path(spec.results) / CHECK_FILE
    try:
        seen = check.read_text(encoding="utf-8").strip()
    except OSError:
        seen = None
    if seen != spec.token:
        raise ResultsNotVisibleError(
            f"worker on {socket.gethostname()} cannot see the results directory {spec.results} "
            f"({check} is {'missing' if seen is None else 'from another run'}); put it on storage every node "
            "mounts at the same path"
        )
    torch.set_num_threads(spec.torch_threads)  # the cell's CPU share, not every core of the node
    task = get_task(spec.scenario.task.name, **spec.scenario.task.params)
    accelerator = make_accelerator(spec.precision)
    return Cell(
        run_id=spec.run_id,
        suite=spec.suite,
        scenario=spec.scenario,
        seed=spec.seed,
        checkpoints=spec.checkpoints,
        store=Store(spec.results),
        setup=LearnerSetup(task=task, training=spec.scenario.training, accelerator=accelerator),
    )


def fit_generation_zero(spec: CellSpec) -> str:
    """Fit and publish the shared generation-0 learner of ``spec``'s (seed, settings); return its cache key."""
    from bench.run.loop import fit_split, fitted_learner, generation_zero_key, real_data

    cell = _worker_cell(spec)
    key = generation_zero_key(cell)
    if not (cell.store.generation_zero_dir(key) / "fit.json").exists():
        real = real_data(cell)
        split = fit_split(cell, 0, real.train, real)
        fitted_learner(cell, 0, split.train, split.validation)
    return key


@dataclass(frozen=True)
class CellStarted:
    """The first item a cell yields: the driver then counts it as running, not queued."""

    host: str


def run_cell(spec: CellSpec, generation_zero: str | None) -> Iterator[CellStarted | GenerationRecord]:
    """Run one cell's missing generations in order, yielding each record as it finishes.

    ``generation_zero`` is the value of the generation-0 task's ObjectRef (Ray resolves it before starting this
    task), or ``None`` when the shared learner already exists; the loop then loads it from the cache.
    """
    from bench.run.loop import real_data, run_generation

    cell = _worker_cell(spec)
    yield CellStarted(socket.gethostname())
    if len(spec.done) >= spec.generations:
        return
    real = real_data(cell)
    for generation in range(spec.generations):
        if generation not in spec.done:
            record = run_generation(cell, generation, real)
            if record is not None:
                yield record


# -- on the driver ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParallelSummary:
    """``runner.RunSummary``'s fields (this module does not import the runner, which loads torch, at import time:
    ``bench validate`` uses the options above), plus the failed cells and where the time went."""

    run_id: str
    cells: int
    generations_run: int
    generations_skipped: int
    seconds: float
    finished: bool
    main_process: bool = True
    failed: tuple[tuple[str, str], ...] = ()  # (cell, error) of every cell that failed
    # Where the time went, for the speed-up's limits: starting or joining Ray; from submitting to the first cell
    # starting (worker start-up and generation 0); the longest cell from its start to its last record.
    ray_start_seconds: float = 0.0
    first_cell_seconds: float = 0.0
    slowest_cell_seconds: float = 0.0


def package_root() -> str:
    """The directory holding the ``bench`` package this process runs."""
    return str(Path(__file__).resolve().parents[2])


def _local_token_auth() -> None:
    """The local instance that ``--workers`` starts keeps Ray's default for a local cluster, token authentication
    with a token Ray generates on first use, set explicitly: with ``RAY_AUTH_MODE`` unset Ray does the same but
    prints a warning on stderr at every start (Ray's token-auth guide: set the variable before the cluster starts).

    Ray reads the mode when it is imported, so it is set only before that: a process that imported Ray already
    keeps Ray's own default (and its warning). A mode the user set is theirs; a cluster given with ``--ray`` is
    joined with the environment as it is.
    """
    if "ray" not in sys.modules:
        os.environ.setdefault("RAY_AUTH_MODE", "token")


def _connect(options: ParallelOptions) -> bool:
    """Start or join Ray; True when this call started it (so the run stops it at the end)."""
    import ray

    if ray.is_initialized():  # an embedding program (or a test) already connected
        return False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # nothing is sent anywhere
    common = {"include_dashboard": False, "logging_level": logging.WARNING, "log_to_driver": False}
    if options.workers is not None:
        # Workers import the same bench as this driver (a checkout, not only an installed copy). Ray's processes
        # inherit this environment; a runtime_env would leave the workers Ray prestarts unused.
        previous = os.environ.get("PYTHONPATH")
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (package_root(), previous) if p)
        # Ray lowers its workers' priority (niceness 15) by default; here the workers are the whole computation,
        # and a sequential run would not be niced either.
        os.environ.setdefault("RAY_worker_niceness", "0")
        try:
            ray.init(
                address="local",
                # Whole CPUs for Ray; the SLOT resource caps the cells at once at N even when K is a fraction.
                num_cpus=math.ceil(options.workers * options.cell_cpus),
                resources={SLOT: options.workers},
                object_store_memory=128 * 1024 * 1024,  # records are small; artifacts go to the results directory
                **common,
            )
        finally:
            if previous is None:
                del os.environ["PYTHONPATH"]
            else:
                os.environ["PYTHONPATH"] = previous
    else:
        try:
            ray.init(address=options.address, **common)
        except ConnectionError as error:
            raise ClusterMismatchError(f"--ray {options.address}: cannot connect to a Ray cluster: {error}") from None
    return True


def _check_capacity(options: ParallelOptions) -> None:
    """A cell that asks for more than any node has would wait forever: fail now, naming the option."""
    import ray

    total = ray.cluster_resources()
    gpus, cpus = total.get("GPU", 0), total.get("CPU", 0)
    if options.cell_gpus > 0 and gpus < min(options.cell_gpus, 1):
        raise ClusterMismatchError(f"--cell-gpus {options.cell_gpus:g}: the Ray cluster has {gpus:g} GPU(s)")
    if cpus < options.cell_cpus:
        raise ClusterMismatchError(f"--cell-cpus {options.cell_cpus:g}: the Ray cluster has {cpus:g} CPU(s)")


def _error_text(error: BaseException) -> str:
    cause = getattr(error, "cause", None)
    if isinstance(cause, BaseException):
        return f"{type(cause).__name__}: {cause}".split("\n")[0]
    lines = [line for line in str(error).split("\n") if line.strip()]
    return f"{type(error).__name__}: {lines[-1] if lines else ''}"


def _prune_checkpoints(store: Store, spec: CellSpec, last: int) -> None:
    """Once a cell is complete, keep only its newest checkpoint when asked (as the sequential runner does per
    generation). Until then every checkpoint stays: a retried worker may redo a generation from any of them."""
    if spec.checkpoints not in ("last", "none"):
        return
    # ``none`` kept the newest only for a warm start; once the cell is complete nothing reads it.
    keep = last if spec.checkpoints == "last" else last + 1
    for generation in range(keep):
        shutil.rmtree(store.generation_dir(spec.run_id, spec.scenario.name, spec.seed, generation) / "model", True)


@dataclass
class _Board:
    """The live view's counts."""

    queued: int
    running: set[str] = field(default_factory=set)
    done: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    submitted: float = field(default_factory=time.perf_counter)
    first_start: float | None = None
    started_at: dict[str, float] = field(default_factory=dict)
    slowest: float = 0.0

    def start(self, cell: str) -> None:
        now = time.perf_counter()
        self.running.add(cell)
        self.queued -= 1
        self.started_at[cell] = now
        self.first_start = self.first_start or now

    def finish(self, cell: str) -> None:
        """The cell left the board's running or queued count (a cell can fail before it starts)."""
        if cell in self.running:
            self.running.discard(cell)
            self.slowest = max(self.slowest, time.perf_counter() - self.started_at[cell])
        else:
            self.queued -= 1

    def line(self) -> str:
        return f"cells: {self.done} done, {len(self.running)} running, {self.queued} queued, {len(self.failed)} failed"


def run_suite_parallel(
    suite: Suite,
    suite_path: str | Path,
    results: str | Path,
    options: ParallelOptions,
    shard: Shard | None = None,
    console: Console | None = None,
    show_progress: bool = True,
) -> ParallelSummary:
    """Run (or resume) every cell of this shard on Ray; return what was done and which cells failed."""
    if options.workers is not None:
        _local_token_auth()
    import ray

    from bench.run.sequential import Shard, check_settings, check_written_paths, open_run

    console = console or Console(stderr=True)
    started = time.perf_counter()
    root = Path(results).resolve()
    store = Store(root)
    run_id = suite.run_id()
    config = suite.resolved_config()
    check_settings(store, suite, config)
    check_written_paths(store, run_id)

    connecting = time.perf_counter()
    started_ray = _connect(options)
    ray_start_seconds = time.perf_counter() - connecting
    try:
        _check_capacity(options)
        open_run(store, suite, suite_path, config, f"ray: {options.describe()}")
        token = uuid.uuid4().hex  # not a result: only names this run's visibility check
        write_atomic(root / CHECK_FILE, token)  # a link planted there is refused, never written through
        resources = options.resources()
        if started_ray and options.workers is not None:
            resources["resources"] = {SLOT: 1}
        summary = _drive(
            suite, store, run_id, resources, options, shard or Shard(), token, console, show_progress, started
        )
        return dataclasses.replace(summary, ray_start_seconds=ray_start_seconds)
    finally:
        if started_ray:
            ray.shutdown()


def _drive(
    suite: Suite,
    store: Store,
    run_id: str,
    resources: dict,
    options: ParallelOptions,
    shard: Shard,
    token: str,
    console: Console,
    show_progress: bool,
    started: float,
) -> ParallelSummary:
    import ray

    zero_task = ray.remote(fit_generation_zero).options(max_retries=options.max_retries, **resources)
    cell_task = ray.remote(run_cell).options(max_retries=options.max_retries, **resources)

    all_cells = [(scenario, seed) for scenario in suite.resolved_scenarios() for seed in suite.seeds]
    cells = [cell for position, cell in enumerate(all_cells) if shard.owns(position)]
    from bench.run.sequential import fail_cell, terminate_on_sigterm
    from bench.store.integrity import resume_point

    keys = generation_zero_groups(suite)
    store.remove_leftovers()  # an interrupted process's temporary files and staging folders
    # As the sequential runner: a cell resumes where its recorded inputs still check out (bench.store.integrity); a
    # damaged or different input makes that generation and the later ones unfinished, so they are redone.
    records_by_cell = store.generation_records(run_id)
    failed_before = {(scenario, seed) for scenario, seed, _, _ in store.failures(run_id)}
    done_by_cell: dict[tuple[str, int], set[int]] = {}
    for scenario, seed in cells:
        records = records_by_cell.get((scenario.name, seed), {})
        point = resume_point(store, run_id, scenario.name, seed, records, suite.generations, scenario.model.warm_start)
        if any(g >= point.generation for g in records):
            store.invalidate(run_id, scenario.name, seed, point.generation)
            console.print(
                f"bench: {scenario.name} seed {seed}: redoing from generation {point.generation}, {point.reason}",
                markup=False,
                highlight=False,
            )
        done_by_cell[(scenario.name, seed)] = {g for g in records if g < point.generation}

    def spec_of(scenario: ResolvedScenario, seed: int) -> CellSpec:
        return CellSpec(
            run_id=run_id,
            suite=suite.suite,
            scenario=scenario,
            seed=seed,
            generations=suite.generations,
            checkpoints=suite.checkpoints,
            precision=suite.training.precision,
            results=str(store.root),
            done=frozenset(done_by_cell[(scenario.name, seed)]),
            torch_threads=options.torch_threads,
            token=token,
        )

    specs = [spec_of(scenario, seed) for scenario, seed in cells]
    skipped = sum(len(spec.done) for spec in specs)
    todo = [spec for spec in specs if len(spec.done) < suite.generations]
    zero_refs: dict[str, ray.ObjectRef] = {}
    generators: dict[ray.ObjectRefGenerator, CellSpec] = {}
    for spec in todo:
        key = keys[(spec.scenario.name, spec.seed)]
        needs_zero = 0 not in spec.done and not (store.generation_zero_dir(key) / "fit.json").exists()
        if needs_zero and key not in zero_refs:
            zero_refs[key] = zero_task.remote(spec)  # the first cell of the group carries its settings
        generators[cell_task.remote(spec, zero_refs[key] if needs_zero else None)] = spec

    board = _Board(queued=len(todo))
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not (show_progress and console.is_terminal),
        transient=False,
    )
    from bench.run.progress import GenerationReporter

    # One line per stored generation in RESULTS/logs/RUN_ID.log, and on stderr when it is not a terminal (as the
    # sequential runner); the live view above when it is.
    reporter = GenerationReporter(
        store.root,
        run_id,
        suite.generations,
        total=sum(suite.generations - len(spec.done) for spec in todo),
        stream=console.file if show_progress and not console.is_terminal else None,
    )
    pending: list[GenerationRecord] = []
    last_flush = time.perf_counter()
    ran = 0
    # The generation each cell works on: where a failure is recorded.
    current = {spec.name: min(set(range(suite.generations)) - spec.done) for spec in todo}

    def flush() -> None:
        nonlocal last_flush
        if pending:
            store.record_generations(pending)
            pending.clear()
        last_flush = time.perf_counter()

    try:
        with terminate_on_sigterm(), progress:
            bar = progress.add_task(board.line(), total=sum(suite.generations - len(s.done) for s in todo))
            while generators:
                ready, _ = ray.wait(list(generators), num_returns=1, timeout=1.0)
                if ready:  # then every generator that has a record waiting, without blocking
                    ready, _ = ray.wait(list(generators), num_returns=len(generators), timeout=0)
                for generator in ready:
                    spec = generators[generator]
                    try:
                        item = ray.get(next(generator))
                    except StopIteration:
                        del generators[generator]
                        board.finish(spec.name)
                        board.done += 1
                        flush()  # the cell's last records are stored before its older checkpoints go
                        _prune_checkpoints(store, spec, suite.generations - 1)
                        if (spec.scenario.name, spec.seed) in failed_before:
                            store.clear_failure(run_id, spec.scenario.name, spec.seed)  # failed before; done now
                        continue
                    except (ray.exceptions.RayError, ResultsNotVisibleError) as error:
                        del generators[generator]
                        if isinstance(getattr(error, "cause", error), ResultsNotVisibleError):
                            raise ParallelRunError(_error_text(error)) from None
                        board.failed.append((spec.name, _error_text(error)))
                        board.finish(spec.name)
                        flush()  # keep the generations this cell did finish
                        cause = getattr(error, "cause", None)
                        fail_cell(
                            store,
                            run_id,
                            spec.scenario.name,
                            spec.seed,
                            current[spec.name],
                            cause if isinstance(cause, Exception) else error,
                        )
                        continue
                    if isinstance(item, CellStarted):
                        board.start(spec.name)
                    else:
                        pending.append(item)
                        current[spec.name] = item.generation + 1
                        reporter.finished(item)
                        ran += 1
                        progress.advance(bar)
                if time.perf_counter() - last_flush >= FLUSH_SECONDS or not ready:
                    flush()
                progress.update(bar, description=f"{board.line()}; suite ETA {reporter.eta_text()}")
    finally:
        flush()  # what finished is kept, also on Ctrl-C or an error
        for generator in generators:  # a failed run stops the cells still queued or running
            ray.cancel(generator, force=True)  # type: ignore[arg-type]

    from bench.run.sequential import close_run

    finished = close_run(store, run_id, len(all_cells) * suite.generations, console)
    return ParallelSummary(
        run_id=run_id,
        cells=len(cells),
        generations_run=ran,
        generations_skipped=skipped,
        seconds=time.perf_counter() - started,
        finished=finished,
        failed=tuple(board.failed),
        first_cell_seconds=(board.first_start or board.submitted) - board.submitted,
        slowest_cell_seconds=board.slowest,
    )
