"""Derived seeds: every random choice takes a seed computed from the suite seed and what the choice is for.

Seeds depend on (suite seed, purpose, generation) and not on the scenario, so scenarios that differ only in a
mitigation or regime see the same random numbers where they can (common random numbers make paired comparisons
over seeds sharper), and generation 0 is identical across scenarios with the same settings.
"""

from __future__ import annotations

import hashlib
import random


def derive_seed(seed: int, *parts: object) -> int:
    """A 63-bit seed from a base seed and labels, stable across Python versions and processes."""
    blob = "/".join([str(seed), *(str(p) for p in parts)]).encode()
    return int.from_bytes(hashlib.sha256(blob).digest()[:8], "big") >> 1


def derive_rng(seed: int, *parts: object) -> random.Random:
    return random.Random(derive_seed(seed, *parts))
