"""The empirical learner: memorize the data set, resample it. The learner with a closed-form answer.

Its fit is the empirical distribution of the whole data set T_g (training and validation parts together: there
is no training, so nothing needs holding out); it samples strings with probability ∝ count^(1/temperature).

At temperature 1 under the ``replace`` regime the loop is then a neutral Wright–Fisher process with N
individuals (Wright 1931; Fisher 1930): every generation draws N items with replacement from the previous N. The
Gini–Simpson index H = 1 − Σ p_i² then loses a factor (1 − 1/N) in expectation with every sampling: with H_0 that of
the real data R, the samples of generation g satisfy E[H(S_g)] = H_0·(1 − 1/N)^(g+1) (Kimura 1955 for the
decay of heterozygosity). ``tests/test_oracle.py`` checks the harness against that formula, and users get a
baseline: does a model collapse faster or slower than pure memorize-and-resample?
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from bench.learners.base import LEARNERS, FitResult, LearnerConfig, LearnerSetup, Progress

if TYPE_CHECKING:
    from bench.settings import SamplingConfig

STATE_FILE = "empirical.json"


@LEARNERS.register("empirical")
class EmpiricalConfig(LearnerConfig):
    """The empirical distribution of T_g (``model: {kind: empirical}``): milliseconds per generation."""

    kind: Literal["empirical"]
    """Which learner: the empirical distribution of each generation's data set."""

    def create(self, setup: LearnerSetup, seed: int, warm_from: Path | None = None) -> EmpiricalLearner:
        return EmpiricalLearner()

    def load(self, setup: LearnerSetup, path: Path) -> EmpiricalLearner:
        state = json.loads((path / STATE_FILE).read_text(encoding="utf-8"))
        return EmpiricalLearner(Counter({str(k): int(v) for k, v in state["counts"].items()}))


class EmpiricalLearner:
    """Counts of the distinct strings of the data set it was fitted on."""

    def __init__(self, counts: Counter[str] | None = None) -> None:
        self.counts: Counter[str] = counts or Counter()

    def fit(self, train: Sequence[str], validation: Sequence[str], seed: int, progress: Progress | None) -> FitResult:
        self.counts = Counter(train) + Counter(validation)  # the whole T_g: no split, no training
        if progress is not None:
            progress(1, 1)
        return FitResult()

    def sample(self, n: int, seed: int, settings: SamplingConfig, progress: Progress | None) -> list[str]:
        if not self.counts:
            raise ValueError("the empirical learner was not fitted")
        # Sorted support: the draw depends on the multiset only, not on the order the data came in.
        support = sorted(self.counts)
        counts = np.array([self.counts[s] for s in support], dtype=np.float64)
        with np.errstate(over="ignore"):
            weights = counts ** (1.0 / settings.temperature)
        if not np.isfinite(weights.sum()):  # a low temperature overflows float64: the same ratios in log space
            logs = np.log(counts) / settings.temperature
            weights = np.exp(logs - logs.max())
        index = np.random.default_rng(seed).choice(len(support), size=n, p=weights / weights.sum())
        if progress is not None:
            progress(n, n)
        return [support[i] for i in index]

    def nll(self, texts: Sequence[str]) -> float | None:
        return None  # unseen strings have probability 0: the held-out NLL is infinite, so it is not reported

    def save(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        (path / STATE_FILE).write_text(json.dumps({"counts": dict(sorted(self.counts.items()))}), encoding="utf-8")

    def to(self, device: Any) -> EmpiricalLearner:
        return self
