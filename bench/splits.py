"""The training/validation split of a generation's data set, for early stopping (``training.early_stopping: own``).

The study held out 10% of each data set for validation. A plain random split of items puts copies of one string on
both sides (at generation 0 of the logic task, 39.6% of validation items also appeared in training), so the
validation loss partly measured memorization. Here every distinct string goes, with all its copies, to one side
only: the validation loss then measures how well the model predicts strings it did not train on.
"""

from __future__ import annotations

import random
from collections import Counter

from bench.regimes import DataSet


def own_split(data: DataSet, validation_fraction: float, rng: random.Random) -> tuple[list[str], list[str]]:
    """Train and validation lists from ``data`` with no string on both sides; both keep the data set's order.

    The distinct strings are shuffled with ``rng``; walking that order, each string goes (with all its copies) to
    validation while it still fits in ``round(fraction · |data|)`` items, so validation reaches its size unless
    duplicates make that impossible. At least one string goes to each side when there are two distinct strings; a
    data set of one distinct string (a fully collapsed generation) cannot be split that way, and then one copy is
    held out, the only split that leaves both sides non-empty.
    """
    counts = Counter(data.texts)
    distinct = list(counts)  # first-appearance order: deterministic before shuffling
    rng.shuffle(distinct)
    if len(distinct) < 2:
        return list(data.texts[1:]), list(data.texts[:1])
    budget = round(len(data) * validation_fraction)
    held_out: set[str] = set()
    taken = 0
    for text in distinct:
        if taken + counts[text] <= budget:
            held_out.add(text)
            taken += counts[text]
        if taken == budget:
            break
    if not held_out:  # every string is more frequent than the budget: hold out the rarest one
        held_out.add(min(distinct, key=lambda text: counts[text]))
    if len(held_out) == len(distinct):  # keep at least one string for training
        held_out.discard(distinct[-1])
    train = [text for text in data.texts if text not in held_out]
    validation = [text for text in data.texts if text in held_out]
    return train, validation
