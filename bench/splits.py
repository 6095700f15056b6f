"""The training/validation split of a generation's data set, for early stopping (``training.early_stopping: own``).

The study held out 10% of each data set for validation. A plain random split of items puts copies of one string on
both sides (at generation 0 of the logic task, 39.6% of validation items also appeared in training), so the
validation loss partly measured memorization. Here every distinct string goes, with all its copies, to one side
only: the validation loss then measures how well the model predicts strings it did not train on.

Which strings are held out must not depend on how frequent they are. Filling a budget of 10% of the items with
whole strings would hold out the rare strings (they fit, the frequent ones do not), and in a collapsing data set
that removes the whole tail from training and speeds the collapse it measures. So the split holds out the same
fraction of the distinct strings at every frequency: the strings of each count are shuffled and ``fraction`` of
them (rounded at random, so the expectation is exact) go to validation. The held-out share of the items is then
``fraction`` in expectation; in a collapsed data set, where few strings are frequent, it is smaller.
"""

from __future__ import annotations

import math
import random
from collections import Counter

from bench.regimes import DataSet


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
