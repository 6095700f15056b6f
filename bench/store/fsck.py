"""``bench fsck``: find damaged and orphaned items in a results directory, and optionally repair them.

Damaged: a finished generation whose recorded file is missing or no longer matches its SHA-256 (a missing
checkpoint is not damage: ``checkpoints: last | none`` prune them), or a generation-0 cache folder that does not
match its manifest. Orphaned: an artifacts folder with no row in the database (a run, a cell's generation), and an
interrupted process's temporary files and staging folders. ``--repair`` removes orphans and damaged caches and marks
each damaged generation, with the later ones of its cell, unfinished, so that rerunning the suite redoes them.

What ``--repair`` deletes must be provably ours: a generation folder of a run the database records, a damaged
generation-0 cache folder, or a temporary name of the store's own pattern, and the path must resolve (every link
followed) inside the results directory without being a link itself. Anything else, such as a folder in
``artifacts/`` that no run of this database names, or anything reached through a symlinked ``artifacts/`` on
another disk, is listed and kept: the user deletes it by hand if it is theirs.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

from bench.store.database import Store
from bench.store.errors import StoreError
from bench.store.integrity import MANIFEST, folder_digests, generation_problems


@dataclass(frozen=True)
class Finding:
    kind: str  # "damaged" (a generation), "damaged-cache", or "orphan"
    path: Path
    detail: str
    generation: tuple[str, str, int, int] | None = None  # (run_id, scenario, seed, generation) when damaged
    keep: str | None = None  # why --repair must not delete it (not provably ours), or None

    def describe(self) -> str:
        kept = f" (--repair keeps it: {self.keep})" if self.keep else ""
        return f"{self.kind}: {self.path}: {self.detail}{kept}"


def _outside(root: Path, path: Path) -> str | None:
    """Why ``path`` may not be deleted as part of ``root``: it resolves outside ``root`` (a link itself is judged by
    where it lies, since deleting a link removes the link only)."""
    real_root = os.path.realpath(root)
    real = os.path.join(os.path.realpath(path.parent), path.name) if path.is_symlink() else os.path.realpath(path)
    if real == real_root or os.path.commonpath([real_root, real]) != real_root:
        return f"it resolves outside the results directory ({real})"
    return None


def _cache_problem(folder: Path) -> str | None:
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        files = manifest["files"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        return f"manifest unreadable ({error})"
    actual = folder_digests(folder, folder)
    actual.pop(MANIFEST, None)
    if not isinstance(files, dict) or actual != files:
        changed = sorted(set(actual) ^ set(files) | {k for k in actual if files.get(k) != actual[k]})
        return f"{changed[0] if changed else MANIFEST} does not match the manifest"
    return None


def check_results(results: str | Path) -> list[Finding]:
    """Every damaged or orphaned item, in a stable order."""
    store = Store(results)
    if not store.exists():
        raise StoreError(f"{results}: no results database ({store.database.name}); nothing to check")
    findings: list[Finding] = []
    runs = {run.run_id for run in store.runs()}
    recorded: set[Path] = set()
    for run_id in sorted(runs):
        for (scenario, seed), generations in sorted(store.generation_records(run_id).items()):
            for generation, digests in sorted(generations.items()):
                folder = store.generation_dir(run_id, scenario, seed, generation)
                recorded.add(folder)
                problems = generation_problems(store, run_id, scenario, seed, generation, digests)
                if problems:
                    findings.append(Finding("damaged", folder, problems[0], (run_id, scenario, seed, generation)))
    artifacts = store.root / "artifacts"
    if artifacts.is_dir():
        for run_dir in sorted(artifacts.iterdir()):
            if run_dir.name not in runs:
                keep = "no run of this database names it; delete it by hand if it is yours"
                findings.append(Finding("orphan", run_dir, "no such run in the database", keep=keep))
                continue
            for folder in sorted(run_dir.glob("*/seed-*/gen-*")):
                if folder not in recorded:
                    detail = "no finished generation recorded for it"
                    findings.append(Finding("orphan", folder, detail, keep=_outside(store.root, folder)))
    cache = store.root / "cache"
    if cache.is_dir():
        for folder in sorted(cache.glob("gen0-*")):
            problem = _cache_problem(folder)
            if problem is not None:
                findings.append(Finding("damaged-cache", folder, problem, keep=_outside(store.root, folder)))
    for path in store.leftovers():
        findings.append(Finding("orphan", path, "left by an interrupted process", keep=_outside(store.root, path)))
    return findings


def repair(results: str | Path, findings: list[Finding]) -> list[Finding]:
    """Remove orphans and damaged caches; mark damaged generations (and the later ones of their cells) unfinished.

    Returns the findings kept because they are not provably ours (listed, never deleted). Run it while no run
    writes to the directory: a live run's unfinished generation looks like an orphan.
    """
    store = Store(results)
    kept = []
    for finding in findings:
        if finding.generation is not None:
            store.invalidate(*finding.generation)
            continue
        keep = finding.keep or _outside(store.root, finding.path)  # checked again right before deleting
        if keep:
            kept.append(replace(finding, keep=keep))
        elif finding.path.is_dir() and not finding.path.is_symlink():
            shutil.rmtree(finding.path, ignore_errors=True)  # never follows links inside the tree
        else:
            finding.path.unlink(missing_ok=True)  # a link goes, never what it points to
    return kept
