"""Progress you can watch: one plain line per finished generation, and a log file of the same lines.

A run under SLURM, nohup or CI has no terminal for progress bars, so when stderr is not a terminal the runner prints
one line per finished generation instead, e.g.::

    replace seed 0 gen 3/49: train 41 s, val_loss 0.83, diversity 0.61, correct 0.93; suite ETA 2 h 10 min

(``gen g/G-1``: generations are numbered 0 … G−1). The same lines are always appended to
``RESULTS/logs/RUN_ID.log``, terminal or not. The reporter knows nothing of how generations are scheduled: the
in-process runner calls it after each generation, and a driver that farms cells out to workers can call it as their
records arrive. The suite ETA is the mean wall time per generation run so far (by this reporter) times the
generations still to run; it is printed once a generation has finished. A generation 0 that another scenario already
fitted (the shared cache) says ``train cached`` and does not count towards that rate.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TextIO

from bench.records import GenerationRecord

LOG_DIR = "logs"


def log_path(results: str | Path, run_id: str) -> Path:
    return Path(results) / LOG_DIR / f"{run_id}.log"


def format_duration(seconds: float) -> str:
    """``"2 h 10 min"``, ``"3 min 5 s"``, ``"41 s"``, ``"0.4 s"``: two units at most, as a person reads a clock."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours >= 24:
        days, hours = divmod(hours, 24)
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"


def format_eta(seconds: float | None) -> str:
    """``"…"`` before there is a rate, ``"done"`` when nothing is left."""
    if seconds is None:
        return "…"
    return "done" if seconds == 0 else format_duration(seconds)


# (metric, label) shown on each line when the generation carries it.
LINE_METRICS: tuple[tuple[str, str], ...] = (
    ("diversity_levenshtein", "diversity"),
    ("correct", "correct"),
    ("real_nll", "real_nll"),
)


def format_line(record: GenerationRecord, generations: int, eta_seconds: float | None, cached: bool = False) -> str:
    """The plain line for one finished generation (``cached``: its generation 0 came from the shared cache, so no
    training time of its own is shown)."""
    parts = ["train cached" if cached else f"train {format_duration(record.train_seconds)}"]
    if record.best_val_loss is not None:
        parts.append(f"val_loss {record.best_val_loss:.2f}")
    parts += [f"{label} {record.metrics[name]:.2f}" for name, label in LINE_METRICS if name in record.metrics]
    eta = format_eta(eta_seconds)
    return (
        f"{record.scenario} seed {record.seed} gen {record.generation}/{generations - 1}: "
        f"{', '.join(parts)}; suite ETA {eta}"
    )


class GenerationReporter:
    """Counts finished generations, estimates the time left, and writes one line per generation.

    ``total`` is how many generations this process (or driver) has to run, already finished ones excluded: call
    :meth:`skipped` for those found done, so that they do not count towards the rate. ``stream`` (stderr off a
    terminal) gets the lines too; ``None`` writes only the log. The log is opened per line in append mode, so
    shards sharing a results directory interleave whole lines.
    """

    def __init__(
        self,
        results: str | Path,
        run_id: str,
        generations: int,
        total: int,
        stream: TextIO | None = None,
        clock=time.perf_counter,
    ) -> None:
        self.path = log_path(results, run_id)
        self.generations = generations
        self.total = total
        self.stream = stream
        self.clock = clock
        self.started = clock()
        self.done = 0
        self.skipped_count = 0

    def skipped(self, count: int = 1) -> None:
        self.skipped_count += count

    @property
    def remaining(self) -> int:
        return max(self.total - self.done - self.skipped_count, 0)

    def eta_seconds(self) -> float | None:
        """Seconds left at the mean rate so far; ``None`` before the first generation, 0 when nothing is left."""
        if self.remaining == 0:
            return 0.0
        if self.done == 0:
            return None
        return (self.clock() - self.started) / self.done * self.remaining

    def eta_text(self) -> str:
        return format_eta(self.eta_seconds())

    def finished(self, record: GenerationRecord, cached: bool = False) -> str:
        """Count one finished generation; write and return its line. A generation 0 loaded from the shared cache
        (``cached``) took no training, so it counts like a skipped one: it would make the rate look faster."""
        if cached:
            self.skipped_count += 1
        else:
            self.done += 1
        line = format_line(record, self.generations, self.eta_seconds(), cached)
        self.write(line)
        return line

    def write(self, line: str) -> None:
        from bench.safe_io import append_text

        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        append_text(self.path, f"{stamp} {line}\n")  # never through a link planted at logs/RUN_ID.log
        if self.stream is not None:
            print(line, file=self.stream, flush=True)
