"""Where a run's code came from: the commit, whether the checkout had uncommitted changes, a hash of them, and the
versions of the packages that compute the numbers.

A result is reproducible from its commit only if the checkout was clean; a run from an edited checkout records
``git_dirty = true`` and the SHA-256 of ``git diff HEAD`` (tracked files' changes against the commit), so two runs
from the same dirty state can be recognised and a table builder can refuse both (:func:`publication_problem`).
"""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from bench.records import RunRow

CHECKOUT = Path(__file__).resolve().parents[2]
# The packages whose versions a run records (``runs.packages``): those that compute or store its numbers.
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
class GitState:
    commit: str | None
    dirty: bool | None  # None: unknown (no git, e.g. a container image built without .git)
    diff_sha256: str | None  # SHA-256 of ``git diff HEAD`` when dirty


def _git(*args: str, cwd: Path = CHECKOUT) -> subprocess.CompletedProcess[bytes] | None:
    try:
        return subprocess.run(["git", *args], capture_output=True, timeout=30, cwd=cwd)
    except (OSError, subprocess.TimeoutExpired):
        return None


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


def git_state(cwd: Path = CHECKOUT) -> GitState:
    """The checkout's HEAD (else ``BENCH_GIT_COMMIT``, recorded at image build time), and whether it is dirty."""
    recorded = os.environ.get("BENCH_GIT_COMMIT", "").strip() or None
    head = _git("rev-parse", "HEAD", cwd=cwd)
    if head is None or head.returncode != 0 or not head.stdout.strip():
        return GitState(recorded, None, None)
    commit = head.stdout.decode().strip()
    # Untracked files count as dirty too (a new module changes what runs), though the diff hash covers tracked ones.
    status = _git("status", "--porcelain", "--untracked-files=normal", cwd=cwd)
    if status is None or status.returncode != 0:
        return GitState(commit, None, None)
    if not status.stdout.strip():
        return GitState(commit, False, None)
    diff = _git("diff", "HEAD", "--no-color", "--no-ext-diff", cwd=cwd)
    digest = hashlib.sha256(diff.stdout).hexdigest() if diff is not None and diff.returncode == 0 else None
    return GitState(commit, True, digest)


def publication_problem(run: RunRow, cwd: Path = CHECKOUT) -> str | None:
    """Why a run's numbers may not go into a published table (``None``: they may): its checkout was dirty (or not
    recorded), or its commit is not an ancestor of this checkout's HEAD (the code that made them is not here)."""
    if run.git_dirty is None:
        return f"run {run.run_id}: its checkout's state was not recorded (a run from before git_dirty); rerun it"
    if run.git_dirty:
        return f"run {run.run_id}: ran from a checkout with uncommitted changes (diff {run.git_diff_sha256})"
    if not run.git_commit:
        return f"run {run.run_id}: no commit recorded"
    ancestor = _git("merge-base", "--is-ancestor", run.git_commit, "HEAD", cwd=cwd)
    if ancestor is None or ancestor.returncode != 0:
        return f"run {run.run_id}: its commit {run.git_commit[:12]} is not an ancestor of HEAD; rerun at HEAD"
    return None
