"""The records that flow from the loop into the store and from the store into analysis.

They sit apart from both, so that storage never imports analysis and analysis never imports storage.
"""

from __future__ import annotations

from dataclasses import dataclass
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
