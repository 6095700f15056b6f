"""Artifact integrity: which recorded files a generation reads, and whether they are still the ones recorded.

Every finished generation's row carries the SHA-256 of the files it wrote (``generations.artifacts``). Generation
g ≥ 1 reads generation g-1's data set, the selected samples of every earlier generation (the accumulating regimes
read them all) and, under a warm start, generation g-1's checkpoint. Before a cell resumes at generation g, those
inputs are verified; the first generation whose files are missing, damaged or different is redone, with every
later one, and since every step is seeded the redone tables equal the lost ones.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bench.store.layout import Layout

MANIFEST = "manifest.json"  # a generation-0 cache folder's settings and file digests


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def folder_digests(folder: Path, relative_to: Path) -> dict[str, str]:
    """SHA-256 of every regular file under ``folder``, keyed by path relative to ``relative_to``."""
    return {
        str(path.relative_to(relative_to)): sha256_file(path)
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not path.is_symlink()
    }


# Recorded digests per generation; ``None`` for rows written before digests existed (checked for presence only).
Digests = Mapping[str, str] | None
INPUT_FILES = ("data.parquet", "selected.parquet")


@dataclass(frozen=True)
class ResumePoint:
    """Where a cell continues: ``generation`` (the first to run) and why earlier finished ones were dropped."""

    generation: int
    reason: str | None = None


def file_problem(store: Layout, relative: str, digest: str | None) -> str | None:
    """Why the recorded file ``relative`` cannot be trusted (``None``: it can)."""
    path = store.root / relative
    if path.is_symlink() or not path.is_file():
        return f"{path}: missing"
    if digest is not None and sha256_file(path) != digest:
        return f"{path}: content differs from its recorded SHA-256 (damaged or replaced)"
    return None


def _generation_prefix(store: Layout, run_id: str, scenario: str, seed: int, generation: int) -> str:
    return store.relative(store.generation_dir(run_id, scenario, seed, generation))


def parquet_problem(
    store: Layout, run_id: str, scenario: str, seed: int, generation: int, digests: Digests
) -> str | None:
    """The data set and selection of one generation, as later generations read them."""
    prefix = _generation_prefix(store, run_id, scenario, seed, generation)
    for name in INPUT_FILES:
        relative = f"{prefix}/{name}"
        problem = file_problem(store, relative, None if digests is None else digests.get(relative, ""))
        if problem is not None:
            return problem
    return None


def model_problem(
    store: Layout, run_id: str, scenario: str, seed: int, generation: int, digests: Digests
) -> str | None:
    """One generation's checkpoint, as a warm start reads it: every recorded file present and unchanged."""
    folder = store.generation_dir(run_id, scenario, seed, generation) / "model"
    prefix = store.relative(folder) + "/"
    if digests is None:
        return None if folder.is_dir() else f"{folder}: missing"
    recorded = {path: digest for path, digest in digests.items() if path.startswith(prefix)}
    if not recorded:
        return f"{folder}: no checkpoint was recorded"
    for relative, digest in sorted(recorded.items()):
        problem = file_problem(store, relative, digest)
        if problem is not None:
            return problem
    return None


def resume_point(
    store: Layout,
    run_id: str,
    scenario: str,
    seed: int,
    records: Mapping[int, Digests],
    generations: int,
    warm_start: bool,
) -> ResumePoint:
    """The first generation of a cell to run, after checking what it would read."""
    start = next((g for g in range(generations) if g not in records), generations)
    if start >= generations:
        return ResumePoint(generations)  # the cell is complete: nothing will read its files
    reason = None
    while start > 0:
        bad = None
        for g in range(start):
            problem = parquet_problem(store, run_id, scenario, seed, g, records[g])
            if problem is not None:
                bad, reason = g, problem
                break
        if bad is None and warm_start:
            problem = model_problem(store, run_id, scenario, seed, start - 1, records[start - 1])
            if problem is not None:
                bad, reason = start - 1, problem
        if bad is None:
            break
        start = bad  # redo the damaged generation; its own inputs are checked on the next pass
    return ResumePoint(start, reason)


def generation_problems(
    store: Layout, run_id: str, scenario: str, seed: int, generation: int, digests: Digests
) -> list[str]:
    """Every recorded file of one generation that is damaged or different (for ``bench fsck``).

    A missing checkpoint is not a problem (``checkpoints: last | none`` prune them); a changed one is.
    """
    if digests is None:
        problem = parquet_problem(store, run_id, scenario, seed, generation, None)
        return [problem] if problem else []
    problems = []
    for relative, digest in sorted(digests.items()):
        path = Path(relative)
        if "model" in path.parts and not (store.root / relative).exists():
            continue
        problem = file_problem(store, relative, digest)
        if problem is not None:
            problems.append(problem)
    return problems
