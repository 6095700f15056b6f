"""diversity_select: keep a spread-out subset by greedy max-min token-level Levenshtein distance."""

from __future__ import annotations

import math
import random
from typing import Literal, Self

import numpy as np
from pydantic import ConfigDict, Field, model_validator
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from bench.metrics import tokens_as_chars
from bench.mitigations.base import MITIGATIONS, Mitigation, MitigationContext, Selection


@MITIGATIONS.register("diversity_select")
class DiversitySelect(Mitigation):
    """Farthest-point selection over distinct samples (reason ``diversity_select`` for every drop).

    Duplicates are removed first. The first pick is a seeded random sample (``context.seed``,
    uniform over the input, so frequent samples are likelier starts); each next pick is the
    distinct sample whose distance to its nearest picked sample is largest, ties to the earliest
    in the input. Distance: token-level lev(a, b) / max(|a|, |b|), as in ``diversity_levenshtein``.
    Kept samples come back in input order. Cost: one rapidfuzz row (n distances) per pick.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Literal["diversity_select"] = Field(
        "diversity_select", description="Discriminator: greedy max-min diversity selection."
    )
    keep_fraction: float | None = Field(
        None,
        gt=0.0,
        le=1.0,
        description="Share of the input samples to keep, rounded half up, at least 1. "
        "Set exactly one of keep_fraction and keep_count.",
    )
    keep_count: int | None = Field(
        None,
        ge=1,
        description="Number of samples to keep. Set exactly one of keep_fraction and keep_count.",
    )

    @model_validator(mode="after")
    def _exactly_one_size(self) -> Self:
        if (self.keep_fraction is None) == (self.keep_count is None):
            raise ValueError("set exactly one of keep_fraction and keep_count")
        return self

    def target(self, n_samples: int) -> int:
        """How many samples to keep out of ``n_samples`` (before capping at the distinct ones)."""
        if self.keep_count is not None:
            return self.keep_count
        assert self.keep_fraction is not None  # the validator guarantees one of the two
        # Half up rather than ceil: 0.3 * 10 is 3.0000000000000004 in floats.
        return max(1, math.floor(self.keep_fraction * n_samples + 0.5)) if n_samples else 0

    def select(self, samples: list[str], context: MitigationContext) -> Selection:
        """Pick ``target`` distinct samples (fewer if fewer are distinct); see the class docstring."""
        if not samples:
            return Selection(kept=[], dropped={})
        distinct = list(dict.fromkeys(samples))  # first-occurrence order = input order
        index_of = {s: i for i, s in enumerate(distinct)}
        k = min(self.target(len(samples)), len(distinct))
        if k == len(distinct):  # every distinct sample is kept: no distances needed
            return Selection(kept=distinct, dropped=_dropped(len(samples) - k))
        encoded = tokens_as_chars(distinct)
        lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))

        picked = np.zeros(len(distinct), dtype=bool)
        nearest = np.full(len(distinct), np.inf)  # distance of each sample to its nearest pick
        current = index_of[samples[random.Random(context.seed).randrange(len(samples))]]
        for _ in range(k - 1):
            picked[current] = True
            dist = process.cdist([encoded[current]], encoded, scorer=Levenshtein.distance, dtype=np.int32)[0]
            denom = np.maximum(lengths, lengths[current])
            row = np.divide(dist, denom, out=np.zeros(len(distinct)), where=denom > 0)
            np.minimum(nearest, row, out=nearest)
            # Picked samples get -1 so that a token-identical but distinct string (distance 0)
            # can still be chosen; argmax returns the lowest index among ties.
            current = int(np.argmax(np.where(picked, -1.0, nearest)))
        picked[current] = True

        kept = [distinct[i] for i in np.flatnonzero(picked)]
        return Selection(kept=kept, dropped=_dropped(len(samples) - k))


def _dropped(n_dropped: int) -> dict[str, int]:
    return {"diversity_select": n_dropped} if n_dropped else {}
