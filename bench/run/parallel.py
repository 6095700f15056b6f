"""Cells in parallel on Ray: ``bench run --workers N`` (a local Ray instance) or ``--ray ADDRESS`` (a cluster).

The schedule (docs/design.md §1, "Parallel runs"):

* Generation 0 of each (seed, shared settings) is one Ray task: it fits the shared learner and publishes it to the
  results directory's cache (``RESULTS/cache/gen0-KEY/``). Every cell that still needs generation 0 takes that
  task's ObjectRef as an argument, so Ray starts the cell only once the learner is there: it is trained exactly once
  and no worker waits on a lock.
* Each cell is one Ray generator task that runs its generations in order (as the sequential runner does, reading its
  inputs from the results directory) and yields each generation's record as it finishes.
* Only the driver writes DuckDB: it waits on the cells' generators with ``ray.wait`` and hands each record to the
  run's session as it arrives (:mod:`bench.run.session`, as the sequential driver does: the same plan, batched
  writes, failure lines and summary), so a driver crash loses little; resume is the sequential one (a generation is
  done exactly when its row is stored).

This module only schedules. Ray is imported only here, and this module only when ``--workers`` or ``--ray`` is given.
"""

from __future__ import annotations

import logging
import math
import os
import re
import socket
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bench.records import GenerationRecord
from bench.run.session import CHECK_FILE, CellPlan, RunPlan, RunSession, RunSummary, Shard, error_line
from bench.safe_io import write_atomic
from bench.store.database import Store
from bench.suite.config import Suite

# A worker process that dies (killed, out of memory, node lost) is retried this many times; an exception raised by
# the cell's own code is not retried: the same seed would raise it again. Documented in docs/parallel.md.
MAX_RETRIES = 2
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


def count_generation_zero_tasks(suite: Suite) -> int:
    """How many distinct generation-0 fits a fresh run of the suite makes (what ``bench validate`` reports)."""
    from bench.run.loop import generation_zero_key_of

    return len({generation_zero_key_of(s, seed) for s in suite.resolved_scenarios() for seed in suite.seeds})


@dataclass(frozen=True)
class CellJob:
    """What a worker gets for one cell (pickled to it; the suite file need not be visible there)."""

    cell: CellPlan
    results: str
    torch_threads: int
    token: str  # this run's visibility check (CHECK_FILE)


# -- on the workers ---------------------------------------------------------------------------------------------


def _worker_cell(job: CellJob):
    """A loop ``Cell`` on this worker, after checking that the driver's results directory is the one seen here."""
    import torch

    from bench.device import make_accelerator
    from bench.run.session import make_cell

    check = Path(job.results) / CHECK_FILE
    try:
        seen = check.read_text(encoding="utf-8").strip()
    except OSError:
        seen = None
    if seen != job.token:
        raise ResultsNotVisibleError(
            f"worker on {socket.gethostname()} cannot see the results directory {job.results} "
            f"({check} is {'missing' if seen is None else 'from another run'}); put it on storage every node "
            "mounts at the same path"
        )
    torch.set_num_threads(job.torch_threads)  # the cell's CPU share, not every core of the node
    return make_cell(job.cell, Store(job.results), make_accelerator(job.cell.scenario.training.precision))


def fit_generation_zero(job: CellJob) -> str:
    """Fit and publish the shared generation-0 learner of ``job``'s (seed, settings); return its cache key."""
    from bench.run.loop import fit_split, fitted_learner, real_data

    cell = _worker_cell(job)
    key = job.cell.generation_zero_key
    if not (cell.store.generation_zero_dir(key) / "fit.json").exists():
        real = real_data(cell)
        split = fit_split(cell, 0, real.train, real)
        fitted_learner(cell, 0, split.train, split.validation)
    return key


@dataclass(frozen=True)
class CellStarted:
    """The first item a cell yields: the driver then counts it as running, not queued."""

    host: str


def run_cell(job: CellJob, generation_zero: str | None) -> Iterator[CellStarted | GenerationRecord]:
    """Run one cell's missing generations in order, yielding each record as it finishes.

    ``generation_zero`` is the value of the generation-0 task's ObjectRef (Ray resolves it before starting this
    task), or ``None`` when the shared learner already exists; the loop then loads it from the cache.
    """
    from bench.run.loop import real_data, run_generation

    cell = _worker_cell(job)
    yield CellStarted(socket.gethostname())
    if not job.cell.todo:
        return
    real = real_data(cell)
    for generation in job.cell.todo:
        record = run_generation(cell, generation, real)
        if record is not None:
            yield record


# -- on the driver ----------------------------------------------------------------------------------------------


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
    """A failed task's error on one line: the cell's own exception where Ray carries it (``Type: message``), else
    the last line of Ray's (a worker that died)."""
    cause = getattr(error, "cause", None)
    if isinstance(cause, BaseException):
        return error_line(cause)
    lines = [line for line in str(error).split("\n") if line.strip()]
    return " ".join(f"{type(error).__name__}: {lines[-1] if lines else ''}".split())


@dataclass
class _Board:
    """The live view's counts."""

    queued: int
    running: set[str] = field(default_factory=set)
    done: int = 0
    failed: int = 0

    def start(self, cell: str) -> None:
        self.running.add(cell)
        self.queued -= 1

    def finish(self, cell: str) -> None:
        """The cell left the board's running or queued count (a cell can fail before it starts)."""
        if cell in self.running:
            self.running.discard(cell)
        else:
            self.queued -= 1

    def line(self) -> str:
        return f"cells: {self.done} done, {len(self.running)} running, {self.queued} queued, {self.failed} failed"


def run_suite_parallel(
    suite: Suite,
    suite_path: str | Path,
    results: str | Path,
    options: ParallelOptions,
    shard: Shard | None = None,
    console: Console | None = None,
    show_progress: bool = True,
) -> RunSummary:
    """Run (or resume) every cell of this shard on Ray; return what was done and which cells failed."""
    console = console or Console(stderr=True)
    started = time.perf_counter()
    store = Store(Path(results).resolve())
    plan = RunPlan.make(suite, suite_path, store, shard or Shard())
    cells = sum(1 for cell in plan.cells if cell.todo)
    if options.workers is not None and cells < 2:
        # Nothing to run side by side: starting Ray and its workers would only add seconds.
        console.print(
            f"bench: {cells} cell(s) to run: running in this process (--workers gains nothing with fewer than 2)",
            markup=False,
            highlight=False,
        )
        return _run_here(plan, store, options, console, show_progress, started)
    if options.workers is not None:
        _local_token_auth()
    import ray

    connecting = time.perf_counter()
    started_ray = _connect(options)
    try:
        _check_capacity(options)
        session = RunSession(plan, store, console, show_progress, prune_at_cell_end=True, started=started)
        session.startup_seconds = time.perf_counter() - connecting
        session.open(f"ray: {options.describe()}")
        token = uuid.uuid4().hex  # not a result: only names this run's visibility check
        write_atomic(store.root / CHECK_FILE, token)  # a link planted there is refused, never written through
        resources = options.resources()
        if started_ray and options.workers is not None:
            resources["resources"] = {SLOT: 1}
        _drive(session, resources, options, token, show_progress)
        return session.close()
    finally:
        if started_ray:
            ray.shutdown()


def _run_here(
    plan: RunPlan, store: Store, options: ParallelOptions, console: Console, show_progress: bool, started: float
) -> RunSummary:
    """The sequential driver on this plan, with torch on the threads a cell would have had on Ray (so the numbers
    are those of a run with the same --cell-cpus, whichever way its cells ran)."""
    import torch

    from bench.run.sequential import run_plan

    threads = torch.get_num_threads()
    torch.set_num_threads(options.torch_threads)
    try:
        return run_plan(plan, store, console, show_progress, started)
    finally:
        torch.set_num_threads(threads)


def _drive(session: RunSession, resources: dict, options: ParallelOptions, token: str, show_progress: bool) -> None:
    """Submit the generation-0 fits and the cells, then store their records as they arrive."""
    import ray

    from bench.run.session import terminate_on_sigterm

    plan, store = session.plan, session.store
    zero_task = ray.remote(fit_generation_zero).options(max_retries=options.max_retries, **resources)
    cell_task = ray.remote(run_cell).options(max_retries=options.max_retries, **resources)

    def job(cell: CellPlan) -> CellJob:
        return CellJob(cell=cell, results=str(store.root), torch_threads=options.torch_threads, token=token)

    todo = [cell for cell in plan.cells if cell.todo]
    zero_refs: dict[str, ray.ObjectRef] = {}
    generators: dict[ray.ObjectRefGenerator, CellPlan] = {}
    for cell in todo:
        key = cell.generation_zero_key
        needs_zero = 0 not in cell.done and not (store.generation_zero_dir(key) / "fit.json").exists()
        if needs_zero and key not in zero_refs:
            zero_refs[key] = zero_task.remote(job(cell))  # the first cell of the group carries its settings
        generators[cell_task.remote(job(cell), zero_refs[key] if needs_zero else None)] = cell

    board = _Board(queued=len(todo))
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=session.console,
        disable=not (show_progress and session.console.is_terminal),
        transient=False,
    )
    # The generation each cell works on: where a failure is recorded.
    current = {cell.name: min(cell.todo) for cell in todo}
    try:
        with terminate_on_sigterm(), progress:
            bar = progress.add_task(board.line(), total=plan.todo)
            while generators:
                ready, _ = ray.wait(list(generators), num_returns=1, timeout=1.0)
                if ready:  # then every generator that has a record waiting, without blocking
                    ready, _ = ray.wait(list(generators), num_returns=len(generators), timeout=0)
                for generator in ready:
                    cell = generators[generator]
                    try:
                        item = ray.get(next(generator))
                    except StopIteration:
                        del generators[generator]
                        board.finish(cell.name)
                        board.done += 1
                        session.cell_done(cell)
                        continue
                    except (ray.exceptions.RayError, ResultsNotVisibleError) as error:
                        del generators[generator]
                        if isinstance(getattr(error, "cause", error), ResultsNotVisibleError):
                            raise ParallelRunError(_error_text(error)) from None
                        board.finish(cell.name)
                        board.failed += 1
                        session.cell_failed(cell, current[cell.name], _error_text(error))
                        continue
                    if isinstance(item, CellStarted):
                        board.start(cell.name)
                        session.cell_started(cell)
                    else:
                        current[cell.name] = item.generation + 1
                        session.stored(item, cell)
                        progress.advance(bar)
                if session.recorder.due() or not ready:
                    session.recorder.flush()
                progress.update(bar, description=f"{board.line()}; suite ETA {session.reporter.eta_text()}")
    finally:
        session.recorder.flush()  # what finished is kept, also on Ctrl-C or an error
        for generator in generators:  # a failed run stops the cells still queued or running
            ray.cancel(generator, force=True)  # type: ignore[arg-type]
