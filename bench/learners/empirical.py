"""The empirical learner: memorize the data set, resample it. The learner with a closed-form answer.

Its fit is the empirical distribution of the whole data set T_g (``fit_on: all``, the default: training and
validation parts together, as there is no training to stop early) or of the training part only (``fit_on: train``,
which makes the oracle see the split); it samples strings with probability ∝ count^(1/temperature).

At temperature 1 under the ``replace`` regime the loop is then a neutral Wright–Fisher process with N
individuals (Wright 1931; Fisher 1930): every generation draws N items with replacement from the previous N. The
Gini–Simpson index H = 1 − Σ p_i² then loses a factor (1 − 1/N) in expectation with every sampling: with H_0 that of
the real data R, the samples of generation g satisfy E[H(S_g)] = H_0·(1 − 1/N)^(g+1) (Kimura 1955 for the
decay of heterozygosity). ``tests/test_oracle.py`` checks the harness against that formula, and users get a
baseline: does a model collapse faster or slower than pure memorize-and-resample?

With ``fit_on: train`` and the ``items`` split, each generation first keeps a uniform subsample of n = N − round(fN)
of the N items (hypergeometric), then draws N with replacement from it. Two distinct items of the subsample are two
distinct items of T_g, so E[H(train)] = (n−1)/n · N/(N−1) · H(T_g), and the multinomial draw multiplies by (1 − 1/N):
the factors N/(N−1) and (1 − 1/N) cancel, and E[H(S_g)] = H_0·(1 − 1/n)^(g+1). The split shrinks the effective
population from N to n (docs/design.md §3; ``tests/test_oracle_split.py`` checks it).
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
    fit_on: Literal["all", "train"] = "all"
    """``all`` (default): the whole data set T_g; ``train``: only its training part, so the split matters (with
    ``training.validation: real`` the training part is all of T_g, and ``all`` is refused: it would add V*)."""

    def create(self, setup: LearnerSetup, seed: int, warm_from: Path | None = None) -> EmpiricalLearner:
        return EmpiricalLearner(fit_on=self.fit_on)

    def load(self, setup: LearnerSetup, path: Path) -> EmpiricalLearner:
        state = json.loads((path / STATE_FILE).read_text(encoding="utf-8"))
        return EmpiricalLearner(Counter({str(k): int(v) for k, v in state["counts"].items()}))


class EmpiricalLearner:
    """Counts of the distinct strings of the data set it was fitted on."""

    def __init__(self, counts: Counter[str] | None = None, fit_on: str = "all") -> None:
        self.counts: Counter[str] = counts or Counter()
        self.fit_on = fit_on

    def fit(self, train: Sequence[str], validation: Sequence[str], seed: int, progress: Progress | None) -> FitResult:
        # ``all``: the whole T_g (no training, so nothing needs holding out); ``train``: the training part only
        self.counts = Counter(train) + (Counter(validation) if self.fit_on == "all" else Counter())
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
