"""``bench score`` at scale: a file of samples read once, each distinct line judged and stored once.

The exact ``diversity_levenshtein`` is quadratic in the distinct lines (pairs of distinct strings, weighted by
their counts). Above ``MAX_EXACT_DISTINCT`` distinct lines it is refused unless the caller asks for a seeded
estimate over K random pairs, reported with its standard error. Memory: one string per distinct line, plus one
reference per line; the exact diversity works in blocks of bounded size (``bench.metrics``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from bench.lines import LineError, iter_lines
from bench.metrics import tokens_as_chars

MAX_EXACT_DISTINCT = 50_000
"""Most distinct lines for the exact diversity: 1.25e9 pairs, about half a minute on one core."""


MAX_LEVENSHTEIN_WORK = 2 * 10**10
"""Most 64-bit word operations for the diversity (rapidfuzz's bit-parallel Levenshtein costs about
len(a) * len(b) / 64 a pair): ``MAX_EXACT_DISTINCT`` lines of 30 tokens need 1.8e10, under three minutes of CPU
(docs/design.md). A few very long lines cost as much as many short ones, so the work is bounded, not only the
number of lines."""


class ScoreInputError(ValueError):
    """A samples file that cannot be scored as asked; one line naming the file and the problem."""


def read_samples(path: str | Path, label: str, normalize: Callable[[str], str]) -> list[str]:
    """The normalized lines of a file; equal lines share one string object, so memory follows distinct lines."""
    path = Path(path)
    if not path.is_file():
        raise ScoreInputError(f"{label}{path}: no such file")
    interned: dict[str, str] = {}
    samples: list[str] = []
    try:
        with path.open("rb") as handle:
            for line in iter_lines(handle, f"{label}{path}"):
                text = normalize(line)
                samples.append(interned.setdefault(text, text))
    except LineError as error:
        raise ScoreInputError(str(error)) from None
    except OSError as error:
        raise ScoreInputError(f"{label}{path}: cannot read: {error.strerror or error}") from None
    return samples


def check_size(distinct: int, source: str, sample_pairs: int | None) -> None:
    """Refuse the exact diversity over too many distinct lines unless an estimate was asked for."""
    if sample_pairs is None and distinct > MAX_EXACT_DISTINCT:
        raise ScoreInputError(
            f"{source}: {distinct:,} distinct lines; the exact diversity_levenshtein is limited to "
            f"{MAX_EXACT_DISTINCT:,} distinct lines (it is quadratic): give --sample-pairs K for a seeded estimate"
        )


def check_work(samples: list[str], source: str, sample_pairs: int | None) -> None:
    """Refuse a diversity whose Levenshtein work exceeds ``MAX_LEVENSHTEIN_WORK`` (long lines, not only many)."""
    if not samples:
        return
    if sample_pairs is None:  # every unordered pair of distinct lines, each once
        lengths = [line.count(" ") + 1 for line in set(samples)]
        total = sum(lengths)
        work = (total * total - sum(n * n for n in lengths)) / 2 / 64
        fix = "give --sample-pairs K for a seeded estimate over fewer pairs"
    else:  # K pairs of independently drawn lines: E[len(a) len(b)] = E[len]^2
        mean = sum(line.count(" ") + 1 for line in samples) / len(samples)
        work = sample_pairs * mean * mean / 64
        fix = "give a smaller --sample-pairs"
    if work > MAX_LEVENSHTEIN_WORK:
        raise ScoreInputError(
            f"{source}: the diversity_levenshtein of these lines needs about {work:.1e} operations, more than the "
            f"limit of {MAX_LEVENSHTEIN_WORK:.0e} (long lines cost quadratically); {fix}"
        )


def diversity_estimate(samples: Iterable[str], pairs: int, seed: int) -> tuple[float, float]:
    """Mean normalized token Levenshtein distance over ``pairs`` random unordered pairs of distinct positions.

    Pairs (i, j), i != j, are drawn uniformly and independently with ``numpy``'s generator seeded by ``seed``: an
    unbiased estimate of the exact mean over all pairs, with standard error sd / sqrt(pairs). Equal lines are
    encoded once. Fewer than 2 samples: (0, 0).
    """
    order = list(samples)
    n = len(order)
    if n < 2 or pairs < 1:
        return 0.0, 0.0
    distinct = list(dict.fromkeys(order))
    index = {text: k for k, text in enumerate(distinct)}
    codes = np.fromiter((index[t] for t in order), dtype=np.int64, count=n)
    encoded = tokens_as_chars(distinct)
    rng = np.random.default_rng(seed)
    first = rng.integers(0, n, size=pairs)
    second = rng.integers(0, n - 1, size=pairs)
    second += second >= first  # uniform over the other n - 1 positions
    a = [encoded[c] for c in codes[first]]
    b = [encoded[c] for c in codes[second]]
    dist = process.cpdist(a, b, scorer=Levenshtein.distance, dtype=np.int32, workers=1)
    denom = np.maximum(np.fromiter(map(len, a), np.int64, pairs), np.fromiter(map(len, b), np.int64, pairs))
    values = np.divide(dist, denom, out=np.zeros(pairs), where=denom > 0)
    se = float(values.std(ddof=1) / math.sqrt(pairs)) if pairs > 1 else float("nan")
    return float(values.mean()), se
