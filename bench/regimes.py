"""Data regimes: how generation g+1's data set T_{g+1} is made from T_g, the samples S_g and real data.

Pure functions of (T_g, S_g, R, F_g, rng), one per row of the table in DESIGN.md. Every item carries its
origin (``real``: generation 0's data, ``fresh``: new task samples, ``synthetic``: model output) so that each data
set's composition is measured, not assumed.

N is the data set size. When fewer than the needed samples survive the mitigations, ``draw`` takes all of them and
fills the rest by sampling with replacement (documented; the alternative — a smaller data set — would change the
training budget per sample between scenarios).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bench.config import (
    AccumulateRegime,
    AccumulateSubsampleRegime,
    FixedRealRegime,
    IncrementalRegime,
    ReplaceRegime,
)


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


def draw(items: DataSet, k: int, rng: random.Random) -> DataSet:
    """``k`` items without replacement; if there are fewer, all of them plus draws with replacement."""
    if k <= 0:
        return DataSet((), ())
    if len(items) == 0:
        raise ValueError("no samples left to build the next data set (did a mitigation drop them all?)")
    if k <= len(items):
        index = rng.sample(range(len(items)), k)
    else:
        index = list(range(len(items))) + rng.choices(range(len(items)), k=k - len(items))
    return DataSet(tuple(items.texts[i] for i in index), tuple(items.origins[i] for i in index))


@dataclass(frozen=True)
class RegimeInputs:
    """Everything a regime may use. ``fresh(k)`` returns k new real samples disjoint from ``real``."""

    previous: DataSet  # T_g
    samples: DataSet  # S_g, after mitigations
    real: DataSet  # R: generation 0's data set
    fresh: Callable[[int], DataSet]  # F_g on demand (seeded by the caller)
    size: int  # N
    rng: random.Random


def next_data_set(regime, inputs: RegimeInputs) -> DataSet:  # noqa: ANN001 - any regime config
    """T_{g+1} for the regime config ``regime`` (a discriminated union member of bench.config.Regime)."""
    n, rng = inputs.size, inputs.rng
    match regime:
        case ReplaceRegime():
            return draw(inputs.samples, n, rng)
        case FixedRealRegime(fraction=rho, source=source):
            k_real = round(rho * n)
            real = draw(inputs.real, k_real, rng) if source == "original" else inputs.fresh(k_real)
            return real + draw(inputs.samples, n - k_real, rng)
        case IncrementalRegime(synthetic_fraction=lam):
            k_new = round(lam * n)
            return draw(inputs.previous, n - k_new, rng) + draw(inputs.samples, k_new, rng)
        case AccumulateRegime(fresh_fraction=phi):
            k_fresh = round(phi / (1.0 - phi) * len(inputs.samples))
            return inputs.previous + inputs.samples + inputs.fresh(k_fresh)
        case AccumulateSubsampleRegime():
            return draw(inputs.previous + inputs.samples, n, rng)
    raise TypeError(f"unknown regime {regime!r}")


def split(data: DataSet, validation_fraction: float, rng: random.Random) -> tuple[list[str], list[str]]:
    """A seeded train/validation split of a data set (at least one item on each side)."""
    order = list(range(len(data)))
    rng.shuffle(order)
    n_val = min(max(1, round(validation_fraction * len(data))), len(data) - 1)
    val = [data.texts[i] for i in order[:n_val]]
    train = [data.texts[i] for i in order[n_val:]]
    return train, val
