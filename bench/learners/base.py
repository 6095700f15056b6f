"""The learner seam: fit on a data set, sample n items, and (optionally) score held-out texts.

The loop tells the generation's story (mix → fit → sample → verify → select → score → store) and asks a learner
for the middle of it; how a learner trains, samples or stores itself stays behind this seam.

A learner is built from its config, which is also the suite's ``model`` section::

    @LEARNERS.register("my_learner")
    class MyLearnerConfig(LearnerConfig):
        kind: Literal["my_learner"] = "my_learner"

        def create(self, setup, seed, warm_from=None) -> Learner: ...
        def load(self, setup, path) -> Learner: ...
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from bench.records import FitResult
from bench.registry import Registry
from bench.schema import Strict

if TYPE_CHECKING:
    from accelerate import Accelerator

    from bench.settings import SamplingConfig, TrainingConfig
    from bench.tasks import Task


class Progress(Protocol):
    """``progress(done, total)``: how far a fit (steps) or a sampling pass (samples) has come; a fit may add its
    current training ``loss`` (the progress bar shows it)."""

    def __call__(self, done: int, total: int, loss: float | None = None) -> None: ...


@dataclass(frozen=True)
class LearnerSetup:
    """What every learner of a cell shares: the task (data, tokenizer, verifier), training settings, device."""

    task: Task
    training: TrainingConfig
    accelerator: Accelerator


class Learner(Protocol):
    """One generation's model."""

    def fit(self, train: Sequence[str], validation: Sequence[str], seed: int, progress: Progress | None) -> FitResult:
        """Fit on ``train``; ``validation`` serves early stopping (a learner without training may use both)."""
        ...

    def sample(self, n: int, seed: int, settings: SamplingConfig, progress: Progress | None) -> list[str]:
        """``n`` samples, tokens joined by single spaces, drawn with ``settings`` and seeded."""
        ...

    def nll(self, texts: Sequence[str]) -> float | None:
        """Mean per-token negative log-likelihood (nats) of ``texts``, or ``None`` if the learner cannot score."""
        ...

    def save(self, path: Path) -> None:
        """Write what ``LearnerConfig.load`` needs to restore this learner (safe formats only)."""
        ...

    def to(self, device: Any) -> Learner:
        """Move to ``device`` (a no-op for learners without tensors)."""
        ...


class LearnerConfig(Strict):
    """Base of every learner's config (the suite's ``model`` section): a ``kind`` tag and how to build it."""

    kind: str

    @property
    def warm_start(self) -> bool:
        """Whether generation g+1 starts from generation g's saved state (so that state must be kept)."""
        return False

    def create(self, setup: LearnerSetup, seed: int, warm_from: Path | None = None) -> Learner:
        """A new, unfitted learner; ``warm_from`` is the previous generation's saved state when ``warm_start``."""
        raise NotImplementedError

    def load(self, setup: LearnerSetup, path: Path) -> Learner:
        """A fitted learner restored from what ``Learner.save`` wrote."""
        raise NotImplementedError

    def check(self, setup_task: Task, block_size: int) -> None:
        """Cross-checks against the task and the training settings at validation time; raise ``ValueError``."""


LEARNERS: Registry[type[LearnerConfig]] = Registry(
    "learner", "learners", builtins=("bench.learners.transformer.learner", "bench.learners.empirical")
)
