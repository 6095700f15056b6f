"""Cells in parallel on Ray: ``bench run --workers N`` (a local Ray instance) or ``--ray ADDRESS`` (a cluster).

The schedule (docs/design.md §1, "Parallel runs"; docs/parallel.md):

* Cells are handed out in suite order to free slots. With ``--workers N`` the driver runs one slot itself, on a
  thread (:class:`_LocalSlot`), and Ray the other N - 1: the driver has torch imported already, so its slot starts
  at once and Ray's start-up and its workers' imports overlap real work instead of coming first. Ray reuses its
  workers from cell to cell, so each imports torch once. With ``--ray ADDRESS`` every cell goes to the cluster.
* Each cell is run by :func:`run_cell`, in order, as the sequential runner does (reading its inputs from the results
  directory), and yields each generation's record as it finishes: on Ray as a generator task.
* Generation 0 of each (seed, shared settings) is fitted by the first cell of that key that starts; the others of
  that key wait in the driver until its record is stored (:class:`_Queue`), so the shared learner is fitted exactly
  once and no worker waits on a lock.
* Only the driver writes DuckDB: it waits on the cells' generators with ``ray.wait`` and on its own slot's queue, and
  hands each record to the run's session as it arrives (:mod:`bench.run.session`, as the sequential driver does:
  the same plan, batched writes, failure lines and summary), so a driver crash loses little; resume is the
  sequential one (a generation is done exactly when its row is stored).

This module only schedules. Ray is imported only here, and this module only when ``--workers`` or ``--ray`` is given.
"""

from __future__ import annotations

import logging
import math
import os
import queue
import re
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bench.records import GenerationRecord
from bench.run.session import (
    CHECK_FILE,
    CellPlan,
    RunPlan,
    RunSession,
    RunSummary,
    Shard,
    Terminated,
    error_line,
    terminate_on_sigterm,
)
from bench.safe_io import write_atomic
from bench.store.database import Store
from bench.suite.config import Suite

# A worker process that dies (killed, out of memory, node lost) is retried this many times; an exception raised by
# the cell's own code is not retried: the same seed would raise it again. Documented in docs/parallel.md.
MAX_RETRIES = 2
# A custom resource of the local Ray instance that --workers starts: one per cell that runs on Ray.
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
        """Ray's resource request of one cell."""
        return {"num_cpus": self.cell_cpus, "num_gpus": self.cell_gpus}

    def describe(self) -> str:
        where = (
            f"up to {self.workers} at once (on CPU one in this process, the others on a local Ray instance)"
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


# -- on the workers (and the driver's own slot) -----------------------------------------------------------------


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


@dataclass(frozen=True)
class CellStarted:
    """The first item a cell yields: the driver then counts it as running, not queued."""

    host: str


def run_cell(job: CellJob) -> Iterator[CellStarted | GenerationRecord]:
    """Run one cell's missing generations in order, yielding each record as it finishes.

    Generation 0 fits the seed's shared learner when its cache is empty; the driver never runs two cells that would
    fit the same one at once (:class:`_Queue`), so it is fitted exactly once and no worker waits on a lock.
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


def _connect(options: ParallelOptions, own_slot: bool = False) -> bool:
    """Start or join Ray (``own_slot``: the driver runs one of the N cells itself); True when this call started it
    (so the run stops it at the end)."""
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
        slots = options.workers - 1 if own_slot else options.workers
        try:
            ray.init(
                address="local",
                # Whole CPUs for Ray; the SLOT resource caps the cells at once even when K is a fraction.
                num_cpus=math.ceil(slots * options.cell_cpus),
                resources={SLOT: slots},
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


def _check_local_capacity(options: ParallelOptions) -> None:
    """Before anything is written (the driver's slot starts before Ray): the GPUs a local run asks for exist here."""
    if options.cell_gpus > 0:
        import torch

        gpus = torch.cuda.device_count()
        if gpus < min(options.cell_gpus, 1):
            raise ClusterMismatchError(f"--cell-gpus {options.cell_gpus:g}: this machine has {gpus} GPU(s)")


def _error_text(error: BaseException) -> str:
    """A failed task's error on one line: the cell's own exception where Ray carries it (``Type: message``), else
    the last line of Ray's (a worker that died)."""
    cause = getattr(error, "cause", None)
    if isinstance(cause, BaseException):
        return error_line(cause)
    lines = [line for line in str(error).split("\n") if line.strip()]
    return " ".join(f"{type(error).__name__}: {lines[-1] if lines else ''}".split())


def _cached_keys(cells: list[CellPlan], store: Store) -> set[str]:
    """The generation-0 keys whose cached learner a cell would use as it is. A damaged or foreign cache is refitted
    by the first cell that meets it (:func:`bench.run.loop.fitted_learner`), so its key must wait like a new one."""
    from bench.run.loop import cache_problem, generation_zero_payload_of

    one_per_key = {cell.generation_zero_key: cell for cell in cells}  # the key is the payload's hash: any cell will do
    usable: set[str] = set()
    for key, cell in one_per_key.items():  # each cached folder hashed once, not once per cell
        folder = store.generation_zero_dir(key)
        if folder.exists() and cache_problem(folder, generation_zero_payload_of(cell.scenario, cell.seed)) is None:
            usable.add(key)
    return usable


class _Queue:
    """The cells still to start, handed out so that one shared generation-0 learner is never fitted twice at once.

    A cell whose generation 0 is stored, or whose seed's learner is in the cache, can start at any time. A cell that
    must fit the learner itself marks its key as being fitted; the other cells of that key wait until its generation
    0 is stored (or it fails, and the next one tries), so a free slot takes a cell of another key first.
    """

    def __init__(self, cells: list[CellPlan], cached: set[str]) -> None:
        self.cells = list(cells)
        self.fitting: dict[str, str] = {}  # generation-0 key -> the cell fitting it
        self._fitted = set(cached)  # keys whose learner is in the cache, usable as it is

    def _free(self, cell: CellPlan) -> bool:
        key = cell.generation_zero_key
        return 0 in cell.done or key in self._fitted or key not in self.fitting

    def take(self) -> CellPlan | None:
        """The next cell in suite order that can start now, or ``None``."""
        for position, cell in enumerate(self.cells):
            if self._free(cell):
                key = cell.generation_zero_key
                if 0 not in cell.done and key not in self._fitted:
                    self.fitting[key] = cell.name
                return self.cells.pop(position)
        return None

    def fits(self, cell: CellPlan) -> bool:
        """Whether ``cell`` fits its key's generation 0 itself (the others load it from the shared cache)."""
        return self.fitting.get(cell.generation_zero_key) == cell.name

    def stored(self, cell: CellPlan, generation: int) -> None:
        if generation == 0:
            self._fitted.add(cell.generation_zero_key)
            self.fitting.pop(cell.generation_zero_key, None)

    def ended(self, cell: CellPlan) -> None:
        """The cell left (done or failed): a key it was fitting is free for the next cell to try."""
        if self.fitting.get(cell.generation_zero_key) == cell.name:
            del self.fitting[cell.generation_zero_key]

    def __len__(self) -> int:
        return len(self.cells)


@dataclass(frozen=True)
class _Ended:
    """A cell finished (``error`` is ``None``) or raised: ``text`` is its failure line."""

    error: BaseException | None = None
    text: str = ""


class _LocalSlot:
    """The driver's own slot in a ``--workers N`` run: one cell at a time on a thread of this process.

    A local run gives Ray N - 1 slots and runs the N-th here: this process has torch imported already, so its slot
    starts work at once, while Ray starts and its workers import (seconds that would otherwise come first). The cell
    runs exactly as on a worker (:func:`run_cell`, the same threads); its items come back on a queue, and only the
    driver's main thread stores them.
    """

    def __init__(self, store: Store, options: ParallelOptions, token: str) -> None:
        self.store, self.options, self.token = store, options, token
        self.items: queue.Queue[tuple[CellPlan, CellStarted | GenerationRecord | _Ended]] = queue.Queue()
        self.cell: CellPlan | None = None
        self.began: dict[str, float] = {}  # cell -> when this slot started it (its CellStarted arrives later)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def busy(self) -> bool:
        return self.cell is not None

    def start(self, cell: CellPlan) -> None:
        self.cell = cell
        self.began[cell.name] = time.perf_counter()
        job = CellJob(
            cell=cell, results=str(self.store.root), torch_threads=self.options.torch_threads, token=self.token
        )
        self._thread = threading.Thread(target=self._run, args=(cell, job), name="bench-driver-cell", daemon=True)
        self._thread.start()

    def _run(self, cell: CellPlan, job: CellJob) -> None:
        ended: _Ended | None = None
        try:
            for item in run_cell(job):
                self.items.put((cell, item))
                if self._stop.is_set():  # the run is over (failed or interrupted): start no further generation
                    return
            ended = _Ended()
        except BaseException as error:  # noqa: BLE001 - any end must reach the driver, or it waits on this slot
            ended = _Ended(error, error_line(error))
        finally:
            if ended is not None:
                self.items.put((cell, ended))

    def drain(self, block: bool) -> list[tuple[CellPlan, CellStarted | GenerationRecord | _Ended]]:
        """The items that arrived, waiting up to a second for the first when ``block``; the slot is free again once
        its cell has ended."""
        items = []
        try:
            if block:
                items.append(self.items.get(timeout=1.0))
            while True:
                items.append(self.items.get_nowait())
        except queue.Empty:
            pass
        if any(isinstance(item, _Ended) for _, item in items):
            self.cell = None
        return items

    def stop(self, wait: bool) -> None:
        """Start no further generation; with ``wait``, let the one in progress finish first."""
        self._stop.set()
        if wait and self._thread is not None:
            self._thread.join()


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
    todo = [cell for cell in plan.cells if cell.todo]
    local = options.workers is not None
    # The driver takes a slot of a local CPU run, not with GPUs: Ray places each cell on a GPU of its choosing
    # (CUDA_VISIBLE_DEVICES); a cell in the driver, outside that bookkeeping, could share one and leave one idle.
    own_slot = local and options.cell_gpus == 0
    if local and (len(todo) < 2 or options.workers < 2):
        # One cell at a time either way: starting Ray and its workers would only add seconds.
        why = "--workers gains nothing with fewer than 2" if len(todo) < 2 else "--workers 1 runs one at a time"
        console.print(
            f"bench: {len(todo)} cell(s) to run: running in this process ({why})", markup=False, highlight=False
        )
        return _run_here(plan, store, options, console, show_progress, started)
    import torch

    threads = torch.get_num_threads()
    started_ray = False
    slot: _LocalSlot | None = None
    interrupted = False
    # SIGTERM is a clean stop from here on, also while Ray starts beside the driver's slot.
    with terminate_on_sigterm():
        try:
            if local:
                _local_token_auth()
                _check_local_capacity(options)
            else:  # a cluster that cannot serve the request is refused before anything is written
                connecting = time.perf_counter()
                started_ray = _connect(options)
                _check_capacity(options)
            session = RunSession(plan, store, console, show_progress, prune_at_cell_end=True, started=started)
            session.open(f"ray: {options.describe()}")
            token = uuid.uuid4().hex  # not a result: only names this run's visibility check
            write_atomic(store.root / CHECK_FILE, token)  # a link planted there is refused, never written through
            pending = _Queue(todo, _cached_keys(todo, store))
            if own_slot:
                # The driver's slot starts on the first cell now, so Ray's start-up and its workers' imports overlap
                # real work instead of coming first.
                slot = _LocalSlot(store, options, token)
                slot.start(pending.take())
            if local:
                connecting = time.perf_counter()
                started_ray = _connect(options, own_slot)
                _check_capacity(options)
            session.startup_seconds = time.perf_counter() - connecting
            _drive(
                session, options, token, pending, slot, slot_resource=started_ray and local, show_progress=show_progress
            )
            return session.close()
        except (KeyboardInterrupt, Terminated):
            interrupted = True
            raise
        finally:
            if slot is not None:
                # Interrupted: the cell's generation in progress is dropped (its files are written whole, and a resume
                # redoes it). Otherwise it is let finish, so no thread of this run outlives the call.
                slot.stop(wait=not interrupted)
            torch.set_num_threads(threads)  # the driver's slot set its cell's share
            if started_ray:
                import ray

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


def _drive(
    session: RunSession,
    options: ParallelOptions,
    token: str,
    pending: _Queue,
    slot: _LocalSlot | None,
    slot_resource: bool,
    show_progress: bool,
) -> None:
    """Hand the cells to free slots (the driver's own first, then Ray's) and store their records as they arrive."""
    import ray

    plan, store = session.plan, session.store
    resources = options.resources()
    if slot_resource:
        resources["resources"] = {SLOT: 1}
    cell_task = ray.remote(run_cell).options(max_retries=options.max_retries, **resources)
    # Cells on Ray at once: beside the driver's slot, the local instance's slots (submitting more would only queue
    # them there, out of reach of the driver's slot); otherwise Ray takes all and queues what its slots cannot run.
    capacity = options.workers - 1 if slot is not None else math.inf
    generators: dict[ray.ObjectRefGenerator, CellPlan] = {}
    todo = [cell for cell in plan.cells if cell.todo]
    board = _Board(queued=len(todo))
    current = {cell.name: min(cell.todo) for cell in todo}  # the generation each cell works on: where it failed
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=session.console,
        disable=not (show_progress and session.console.is_terminal),
        transient=False,
    )

    def settle(cell: CellPlan, item: CellStarted | GenerationRecord | _Ended) -> None:
        if isinstance(item, CellStarted):
            board.start(cell.name)
            # A cell in the driver's slot began when the slot started it, not when its first item was drained.
            session.cell_started(cell, at=slot.began.pop(cell.name, None) if slot is not None else None)
        elif isinstance(item, _Ended):
            pending.ended(cell)
            board.finish(cell.name)
            if item.error is None:
                board.done += 1
                session.cell_done(cell)
            elif isinstance(getattr(item.error, "cause", item.error), ResultsNotVisibleError):
                raise ParallelRunError(item.text)
            else:
                board.failed += 1
                session.cell_failed(cell, current[cell.name], item.text)
        else:
            current[cell.name] = item.generation + 1
            # A generation 0 loaded from the cache took no training: say so, and keep it out of the ETA's rate.
            cached = item.generation == 0 and not pending.fits(cell)
            pending.stored(cell, item.generation)
            session.stored(item, cell, cached=cached)
            progress.advance(bar)

    try:
        with progress:  # SIGTERM: the caller's terminate_on_sigterm covers this loop too
            bar = progress.add_task(board.line(), total=plan.todo)
            while True:
                if slot is not None and not slot.busy and (cell := pending.take()) is not None:
                    slot.start(cell)
                while len(generators) < capacity and (cell := pending.take()) is not None:
                    job = CellJob(cell=cell, results=str(store.root), torch_threads=options.torch_threads, token=token)
                    generators[cell_task.remote(job)] = cell
                local_busy = slot is not None and slot.busy
                if not generators and not local_busy:
                    break  # every cell ended (a key being fitted is released when its cell ends, so none waits)
                ready: list = []
                if generators:
                    ready, _ = ray.wait(list(generators), num_returns=1, timeout=0.2 if local_busy else 1.0)
                    if ready:  # then every generator that has a record waiting, without blocking
                        ready, _ = ray.wait(list(generators), num_returns=len(generators), timeout=0)
                for generator in ready:
                    cell = generators[generator]
                    try:
                        item = ray.get(next(generator))
                    except StopIteration:
                        item = _Ended()
                    except (ray.exceptions.RayError, ResultsNotVisibleError) as error:
                        item = _Ended(error, _error_text(error))
                    if isinstance(item, _Ended):
                        del generators[generator]
                    settle(cell, item)
                # Wait on the driver's slot only when it is all that runs (an idle slot would only add a second).
                drained = slot.drain(block=not generators and slot.busy) if slot is not None else []
                for cell, item in drained:
                    settle(cell, item)
                if session.recorder.due() or not (ready or drained):  # batched while records arrive, as a Recorder
                    session.recorder.flush()
                progress.update(bar, description=f"{board.line()}; suite ETA {session.reporter.eta_text()}")
    finally:
        session.recorder.flush()  # what finished is kept, also on Ctrl-C or an error
        for generator in generators:  # a failed run stops the cells still queued or running
            ray.cancel(generator, force=True)  # type: ignore[arg-type]
