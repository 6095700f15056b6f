"""The sequential driver: a suite's cells one after another in this process, with progress bars.

What a run is (the plan, resume, batched writes, failures, the summary) is :mod:`bench.run.session`, shared with the
Ray driver; this module only schedules: build each cell, run its missing generations in order, report as they go.
``--shard K/N`` takes every N-th cell starting at the K-th; shards may share a results directory (the store
serialises writes) or use their own and be merged with ``bench merge``. Under a multi-process launch (``torchrun``,
``accelerate launch``) every process runs every cell together (data parallel) and only the main one writes.
"""

from __future__ import annotations

import platform
import time
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
from bench.run.loop import Hooks, real_data, run_generation
from bench.run.session import RunPlan, RunSession, RunSummary, Shard, error_line, make_cell, terminate_on_sigterm
from bench.store.database import Store
from bench.store.errors import StoreError
from bench.suite.config import Suite

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


def describe_device(device: torch.device, processes: int = 1) -> str:
    if device.type == "cuda":
        name = f"cuda: {torch.cuda.get_device_name(device)}"
    else:
        name = f"cpu: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    return f"{name} × {processes} processes" if processes > 1 else name


def run_suite(
    suite: Suite,
    suite_path: str | Path,
    results: str | Path = "results",
    shard: Shard | None = None,
    console: Console | None = None,
    show_progress: bool = True,
) -> RunSummary:
    """Run (or resume) every cell of this shard; return what was done."""
    started = time.perf_counter()
    store = Store(results)
    plan = RunPlan.make(suite, suite_path, store, shard or Shard())
    return run_plan(plan, store, console or Console(stderr=True), show_progress, started)


def run_plan(
    plan: RunPlan, store: Store, console: Console, show_progress: bool = True, started: float | None = None
) -> RunSummary:
    """Run the planned cells one after another in this process (the Ray driver's fallback too)."""
    accelerator = make_accelerator(plan.suite.training.precision)
    main = accelerator.is_main_process
    # Every process plans from the same stored state before the main one opens the run (which may drop rows).
    accelerator.wait_for_everyone()
    session = RunSession(plan, store, console, show_progress, main_process=main, started=started)
    session.open(describe_device(accelerator.device, accelerator.num_processes))
    accelerator.wait_for_everyone()

    # Bars on a terminal; off one (SLURM, nohup, CI) one plain line per generation instead. The log always.
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[info]}"),
        console=console,
        disable=not (show_progress and main and console.is_terminal),
        transient=False,
        # Time left from the mean rate since the start: a cell or generation takes longer than rich's default
        # 30-second window, which would leave "-:--:--" for the whole run.
        speed_estimate_period=SPEED_WINDOW_SECONDS,
    )
    try:
        with terminate_on_sigterm(), progress:
            cell_bar = progress.add_task("cells", total=len(plan.cells), info="")
            generation_bar = progress.add_task("generations", total=plan.generations, info="")
            step = StepBar(progress, progress.add_task("  fitting", total=1, info=""))
            hooks = Hooks(
                on_fit=lambda done, total, loss=None: step.update(
                    "  fitting", done, total, "" if loss is None else f"loss {loss:.3f}"
                ),
                on_sample=lambda done, total, loss=None: step.update("  sampling", done, total, ""),
            )
            for planned in plan.cells:
                progress.update(cell_bar, description=f"cells ({planned.scenario.name}, seed {planned.seed})")
                progress.reset(generation_bar, total=plan.generations, completed=len(planned.done))
                generation = 0
                try:
                    session.cell_started(planned)
                    cell = make_cell(planned, store, accelerator, hooks)
                    real = real_data(cell) if planned.todo else None
                    for generation in planned.todo:
                        # Generation 0 that another scenario of this seed fitted already: no training of its own.
                        cached = generation == 0 and store.generation_zero_dir(planned.generation_zero_key).exists()
                        session.stored(run_generation(cell, generation, real), planned, cached=cached)
                        progress.advance(generation_bar)
                        progress.update(cell_bar, info=f"suite ETA {session.reporter.eta_text()}")
                    session.cell_done(planned)
                except StoreError:
                    raise  # the results directory itself: no later cell could be stored either
                except Exception as error:  # noqa: BLE001 - any run-time failure of one cell must not stop the others
                    if session.recorder.broken:
                        raise
                    session.cell_failed(planned, generation, error_line(error))
                progress.advance(cell_bar)
    finally:
        session.recorder.flush()  # what finished is kept, also on Ctrl-C, SIGTERM or an error in a later cell
    return session.close()
