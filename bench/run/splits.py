"""The training/validation split of a generation's data set, for early stopping (``training.validation``).

The study held out 10% of each data set for validation. Three policies (docs/design.md §4 says what each measures):

- ``items`` (default, the study's procedure): exactly round(f·n) of the n items, drawn uniformly without
  replacement with the seeded generator. Copies of one string may fall on both sides, so the validation loss partly
  measures memorization (at generation 0 of the logic task 39.6% of validation items also appeared in training); in
  exchange the split never decides what training sees: every string keeps, in expectation, a share 1 − f of its
  copies, whatever its frequency.
- ``strings``: every distinct string goes, with all its copies, to one side only. The validation loss then measures
  prediction of unseen strings, but in a concentrated data set the split is destructive: a string holding 90% of the
  items is held out whole about 10% of the time, and training gets only the rest.
- ``real``: the generation trains on all of T_g and validates on a real set drawn once per seed (``bench.run.loop``).

Both splits return one side per item, in the data set's order (``True``: validation), so the loop can record them.
"""

from __future__ import annotations

import math
import random
from collections import Counter

from bench.regimes import DataSet


def item_sides(n: int, validation_fraction: float, rng: random.Random) -> list[bool]:
    """The ``items`` split of n items: exactly round(f·n) validation items (at least one, and at least one training
    item), chosen uniformly without replacement; ``True`` marks validation."""
    if n < 2:
        raise ValueError(f"a data set of {n} item(s) cannot be split into training and validation")
    k = min(max(1, round(validation_fraction * n)), n - 1)
    held_out = set(rng.sample(range(n), k))
    return [i in held_out for i in range(n)]


def string_sides(data: DataSet, validation_fraction: float, rng: random.Random) -> list[bool]:
    """The ``strings`` split as one side per item (``True``: validation); see :func:`own_split`."""
    if len(set(data.texts)) < 2:  # one distinct string: own_split holds out its first copy
        return [i == 0 for i in range(len(data.texts))]
    _, validation = own_split(data, validation_fraction, rng)
    held_out = set(validation)
    return [text in held_out for text in data.texts]


def own_split(data: DataSet, validation_fraction: float, rng: random.Random) -> tuple[list[str], list[str]]:
    """Train and validation lists from ``data`` with no string on both sides; both keep the data set's order.

    For each count c, the distinct strings seen c times are shuffled and ⌊f·n_c + u⌋ of them are held out (n_c of
    them, u uniform in [0, 1)). At least one string goes to each side when there are two distinct strings (the rarest
    one is held out if none was); a data set of one distinct string (a fully collapsed generation) cannot be split
    that way, and then one copy is held out, the only split that leaves both sides non-empty.
    """
    counts = Counter(data.texts)
    if len(counts) < 2:
        return list(data.texts[1:]), list(data.texts[:1])
    strata: dict[int, list[str]] = {}
    for text, count in counts.items():  # first-appearance order within a stratum: deterministic before shuffling
        strata.setdefault(count, []).append(text)
    held_out: set[str] = set()
    for count in sorted(strata):
        texts = strata[count]
        rng.shuffle(texts)
        k = math.floor(validation_fraction * len(texts) + rng.random())
        held_out.update(texts[:k])
    if not held_out:
        held_out.add(strata[min(strata)][0])
    if len(held_out) == len(counts):  # keep at least one string for training
        held_out.discard(strata[max(strata)][0])
    train = [text for text in data.texts if text not in held_out]
    validation = [text for text in data.texts if text in held_out]
    return train, validation
