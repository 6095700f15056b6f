"""Where a results directory keeps what: the one module that builds its paths.

::

    RESULTS/bench.duckdb (+ .lock, .wal)                   runs, metrics, drops, generations, failures
    RESULTS/results-RUN.json                               the run's summary (bench.analysis.results_json)
    RESULTS/artifacts/RUN/SCENARIO/seed-S/gen-GGG/         data.parquet, samples.parquet, selected.parquet, model/
    RESULTS/cache/gen0-KEY/                                generation 0's fitted learner, shared by scenarios

Every recorded path is relative to the results directory, so the directory can move.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path

DATABASE = "bench.duckdb"


def staging_prefix(name: str) -> str:
    """Temporary names carry host and pid, so a later start can tell a dead process's leftovers from a live one's."""
    return f".{name}-{socket.gethostname()}-{os.getpid()}-"


class Layout:
    """The paths of one results directory."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.database = self.root / DATABASE
        self.lock_path = self.root / (DATABASE + ".lock")
        self.wal_path = self.root / (DATABASE + ".wal")

    def generation_dir(self, run_id: str, scenario: str, seed: int, generation: int) -> Path:
        """Where one generation of one cell keeps its data set, samples, selection and checkpoint."""
        return self.root / "artifacts" / run_id / scenario / f"seed-{seed}" / f"gen-{generation:03d}"

    def relative(self, path: Path) -> str:
        """``path`` relative to the results directory, as the database records it (the directory can move)."""
        return str(path.relative_to(self.root))

    def results_json(self, run_id: str) -> Path:
        """The run's lm-eval style results JSON, beside the database (``bench.analysis.results_json``)."""
        return self.root / f"results-{run_id}.json"

    def generation_zero_dir(self, key: str) -> Path:
        """Generation 0's shared fitted learner for one (seed, settings) key."""
        return self.root / "cache" / f"gen0-{key}"

    def remove_generations_from(self, run_id: str, scenario: str, seed: int, first: int) -> None:
        """Delete the folders of generation ``first`` and every later one of a cell."""
        cell_dir = self.generation_dir(run_id, scenario, seed, 0).parent
        if cell_dir.is_dir():
            for folder in sorted(cell_dir.glob("gen-*")):
                if folder.name[4:].isdigit() and int(folder.name[4:]) >= first:
                    shutil.rmtree(folder, ignore_errors=True)

    def publish(self, target: Path, write: Callable[[Path], None]) -> None:
        """Write a folder with ``write(staging)`` and rename it to ``target`` atomically; the first writer wins.

        Two shards racing here both write the same deterministic content, and the loser's copy is dropped.
        """
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=staging_prefix(target.name)))
        try:
            write(staging)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        try:
            os.rename(staging, target)
        except OSError:  # another process published it first
            shutil.rmtree(staging, ignore_errors=True)
