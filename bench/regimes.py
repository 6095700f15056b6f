"""Data regimes: how generation g+1's data set T_{g+1} is made from T_g, the samples S_g and real data.

Each regime is a config class (the suite's ``regime:`` section) with its behaviour beside it: a pure function of
(T_g, S_g, R, F_g, the history S_0..S_g, rng), one per row of the table in docs/design.md, with its source paper.
Every item carries its origin (``real``: generation 0's data, ``fresh``: new task samples, ``synthetic``: model
output) so that each data set's composition is measured, not assumed.

N is the data set size. When fewer than the needed samples survive the mitigations, ``draw`` takes all of them and
fills the rest by sampling with replacement (documented; the alternative — a smaller data set — would change the
training budget per sample between scenarios).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from bench.registry import Registry
from bench.schema import Strict


@dataclass(frozen=True)
class DataSet:
    """A generation's data set: texts with the origin of each."""

    texts: tuple[str, ...]
    origins: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.texts) != len(self.origins):
            raise ValueError("texts and origins differ in length")

    @classmethod
    def of(cls, texts: Sequence[str], origin: str) -> DataSet:
        return cls(tuple(texts), (origin,) * len(texts))

    def __len__(self) -> int:
        return len(self.texts)

    def __add__(self, other: DataSet) -> DataSet:
        return DataSet(self.texts + other.texts, self.origins + other.origins)

    def share(self, origin: str) -> float:
        return self.origins.count(origin) / len(self) if len(self) else 0.0


class NoSamplesLeftError(RuntimeError):
    """The mitigations left nothing to train the next generation on."""


def draw(items: DataSet, k: int, rng: random.Random) -> DataSet:
    """``k`` items without replacement; if there are fewer, all of them plus draws with replacement."""
    if k <= 0:
        return DataSet((), ())
    if len(items) == 0:
        raise NoSamplesLeftError("no samples left to build the next data set (did a mitigation drop them all?)")
    if k <= len(items):
        index = rng.sample(range(len(items)), k)
    else:
        index = list(range(len(items))) + rng.choices(range(len(items)), k=k - len(items))
    return DataSet(tuple(items.texts[i] for i in index), tuple(items.origins[i] for i in index))


@dataclass(frozen=True)
class RegimeInputs:
    """Everything a regime may use to make T_{g+1}; the expensive parts are read on demand."""

    previous: DataSet  # T_g
    samples: DataSet  # S_g, after mitigations
    real: DataSet  # R: generation 0's data set
    fresh: Callable[[int], DataSet]  # F_g: k new real samples (seeded by the caller; data.fresh says how)
    history: Callable[[], DataSet]  # S_0 ∪ … ∪ S_g: every generation's selected samples so far, S_g included
    size: int  # N
    rng: random.Random


REGIMES: Registry[type[Regime]] = Registry("regime", "regimes")


class Regime(Strict):
    """Base of every regime: a ``kind`` tag, its own documented fields, and how it makes T_{g+1}."""

    kind: str

    def next_data_set(self, inputs: RegimeInputs) -> DataSet:
        """T_{g+1} from what ``inputs`` holds."""
        raise NotImplementedError


@REGIMES.register("replace")
class ReplaceRegime(Regime):
    """Full synthetic (Briesch et al. 2311.16822; Shumailov et al. 2024): T_{g+1} = N samples of S_g."""

    kind: Literal["replace"]

    def next_data_set(self, inputs: RegimeInputs) -> DataSet:
        return draw(inputs.samples, inputs.size, inputs.rng)


@REGIMES.register("fixed_real")
class FixedRealRegime(Regime):
    """Balanced (Briesch et al.): ρN real samples (original data or fresh data) + (1−ρ)N samples of S_g."""

    kind: Literal["fixed_real"]
    fraction: float = Field(0.5, ge=0.0, le=1.0)
    """ρ: the share of real data in every generation."""
    source: Literal["original", "fresh"] = "original"
    """``original``: drawn from generation 0's data; ``fresh``: new task samples each generation."""

    def next_data_set(self, inputs: RegimeInputs) -> DataSet:
        k_real = round(self.fraction * inputs.size)
        real = draw(inputs.real, k_real, inputs.rng) if self.source == "original" else inputs.fresh(k_real)
        return real + draw(inputs.samples, inputs.size - k_real, inputs.rng)


@REGIMES.register("incremental")
class IncrementalRegime(Regime):
    """Incremental (Briesch et al.): (1−λ)N drawn from T_g + λN from S_g."""

    kind: Literal["incremental"]
    synthetic_fraction: float = Field(0.5, ge=0.0, le=1.0)
    """λ: the share of the new generation's samples."""

    def next_data_set(self, inputs: RegimeInputs) -> DataSet:
        k_new = round(self.synthetic_fraction * inputs.size)
        return draw(inputs.previous, inputs.size - k_new, inputs.rng) + draw(inputs.samples, k_new, inputs.rng)


@REGIMES.register("accumulate")
class AccumulateRegime(Regime):
    """Expanding (Briesch et al.; Gerstgrasser et al. 2404.01413): T_g ∪ S_g ∪ F_g, |F_g| = φ/(1−φ)·|S_g|."""

    kind: Literal["accumulate"]
    fresh_fraction: float = Field(0.0, ge=0.0, lt=1.0)
    """φ: the share of fresh real data among the samples added each generation."""

    def next_data_set(self, inputs: RegimeInputs) -> DataSet:
        k_fresh = round(self.fresh_fraction / (1.0 - self.fresh_fraction) * len(inputs.samples))
        return inputs.previous + inputs.samples + inputs.fresh(k_fresh)


@REGIMES.register("accumulate_subsample")
class AccumulateSubsampleRegime(Regime):
    """Accumulate-subsample (Kazdan et al. 2410.16713, their ``src/fit_gaussians/fit_gaussians.py``).

    T_{g+1} is a uniform subsample, without replacement, of size N of everything accumulated so far:
    P_{g+1} = R ∪ S_0 ∪ … ∪ S_g (the whole pool, not T_g, which is itself a subsample). With |S_g| = N its real share
    is 1/(g+2) at generation g+1.
    """

    kind: Literal["accumulate_subsample"]

    def next_data_set(self, inputs: RegimeInputs) -> DataSet:
        return draw(inputs.real + inputs.history(), inputs.size, inputs.rng)
