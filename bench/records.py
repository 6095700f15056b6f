"""The records that flow from the loop into the store and from the store into analysis.

They sit apart from both, so that storage never imports analysis and analysis never imports storage.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any, NamedTuple


class MetricRow(NamedTuple):
    """One number of one run: the tidy row of the store's ``metrics`` table."""

    run_id: str
    suite: str
    scenario: str
    seed: int
    generation: int
    metric: str
    value: float
    higher_is_better: bool | None


@dataclass(frozen=True, kw_only=True)
class RunRow:
    """One run as the store's ``runs`` table records it: what the reading commands choose by and analysis reads."""

    run_id: str
    suite: str
    config: str  # the resolved suite settings as JSON text (``Suite.resolved_config()``), as stored
    status: str  # running, finished or failed
    suite_path: str | None = None
    suite_hash: str | None = None  # SHA-256 of the suite file
    baseline: str | None = None  # the suite's baseline scenario
    git_commit: str | None = None
    packages: str | None = None  # package versions as JSON text; NULL in rows written before they were recorded
    device: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    git_dirty: bool | None = None  # None: not recorded (a database from before the column)
    git_diff_sha256: str | None = None

    @classmethod
    def from_columns(cls, columns: dict[str, Any]) -> RunRow:
        """A row from ``{column: value}``; a column an older database lacks is ``None``, one this version does not
        know is ignored."""
        return cls(**{f.name: columns.get(f.name) for f in fields(cls)})

    def settings(self) -> dict[str, Any]:
        """The resolved suite settings (``config`` parsed)."""
        return json.loads(self.config)

    def package_versions(self) -> dict[str, Any]:
        """Package name -> version (``packages`` parsed; empty when not recorded)."""
        return (json.loads(self.packages) if self.packages else None) or {}


@dataclass(frozen=True)
class GenerationRecord:
    """Everything stored for one finished generation of one cell."""

    run_id: str
    suite: str
    scenario: str
    seed: int
    generation: int
    metrics: dict[str, float]
    higher_is_better: dict[str, bool | None]
    drops: dict[str, int]
    samples_path: str
    data_path: str
    checkpoint_path: str | None
    train_iterations: int
    best_val_loss: float | None
    train_seconds: float
    sample_seconds: float
    useful_tokens_per_second: float
    # SHA-256 of every file the generation wrote, by path relative to the results directory: what a resume verifies.
    artifacts: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FitResult:
    """What one generation's fit did; learners without training leave the training fields at their defaults."""

    iterations: int = 0
    best_val_loss: float | None = None
    best_iteration: int = 0
    stopped_early: bool = False
    seconds: float = 0.0
    useful_tokens: int = 0
    padded_tokens: int = 0
    epochs: float = 0.0  # passes over the training blocks (steps × blocks per step / blocks); 0 without training

    @property
    def useful_tokens_per_second(self) -> float:
        return self.useful_tokens / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> FitResult:
        return cls(**json.loads(text))
