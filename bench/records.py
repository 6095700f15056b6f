"""The records that flow from the loop into the store and from the store into analysis.

They sit apart from both, so that storage never imports analysis and analysis never imports storage.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import NamedTuple


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
