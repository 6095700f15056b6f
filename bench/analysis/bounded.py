"""Intervals for metrics that live in [0, 1] (shares, normalized distances): on the logit scale, or clipped.

A t interval of two shares, 0.3 and 0.62, is 0.46 ± 2.03 (1 degree of freedom): [-1.57, 2.49], which says
nothing and says it outside the metric's range. The standard remedy for a bounded quantity is to build the
interval on a scale where it is unbounded and map it back: logit(p) = log(p / (1 − p)) (the logit-transformed
Wald interval for proportions; cf. Agresti & Coull 1998). The mean stays the plain mean of the values; only the
ends are computed as mean ± t·SE on logit(values) and mapped back with the logistic function, so they lie in
(0, 1). A value at exactly 0 or 1 (a collapsed seed, an all-correct generation) has no finite logit, and any
constant put in its place would decide the interval's width; there the plain interval is clipped to [0, 1]
instead, and the captions say so. Only the Student-t interval is transformed: the percentile bootstrap's ends are
resampled means of the values, so they already lie inside [0, 1].
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from bench.analysis.stats import Interval, interval

_UNIT_NAMES = frozenset(
    {
        "correct",
        "incorrect",
        "invalid",
        "unique_ratio",
        "kept_share",
        "trivial_share",
        "empty_share",
        "novelty",
        "memorized",
        "semantic_novelty",
        "self_bleu",
        "mauve",
        "data_real_share",
        "data_fresh_share",
        "data_synthetic_share",
    }
)


def is_unit_metric(metric: str) -> bool:
    """Whether ``metric`` is a share or a normalized score, bounded to [0, 1] by its definition."""
    return metric in _UNIT_NAMES or metric.startswith(("diversity_levenshtein", "distinct_"))


def _logit(p: np.ndarray) -> np.ndarray:
    return np.log(p / (1.0 - p))


def _logistic(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def logit_interval(values: Sequence[float], confidence: float = 0.95, method: str = "auto", seed: int = 0) -> Interval:
    """:func:`bench.analysis.stats.interval` of ``values`` built on the logit scale and mapped back into (0, 1).

    Same method choice and ``n`` as :func:`bench.analysis.stats.interval`; the mean is the arithmetic mean of
    ``values``. One value or identical values keep what :func:`bench.analysis.stats.interval` gives (no interval / zero
    width).
    """
    arr = np.asarray(values, dtype=np.float64).ravel()
    plain = interval(arr.tolist(), confidence=confidence, method=method, seed=seed)
    # The percentile bootstrap already stays inside the values' range: only the t interval needs the transform.
    if plain.method != "t" or plain.low is None or plain.high is None or plain.low == plain.high:
        return plain
    if np.any(arr < 0.0) or np.any(arr > 1.0):
        raise ValueError(f"logit_interval needs values in [0, 1], got {arr.tolist()}")
    if np.any((arr == 0.0) | (arr == 1.0)):
        return Interval(plain.mean, max(plain.low, 0.0), min(plain.high, 1.0), plain.method, plain.n)
    on_logit = interval(_logit(arr).tolist(), confidence=confidence, method=method, seed=seed)
    assert on_logit.low is not None and on_logit.high is not None  # noqa: S101 - more than one distinct value
    low, high = _logistic(on_logit.low), _logistic(on_logit.high)
    # The plain mean, which the logit band contains whenever the band is not degenerate; keep it inside anyway.
    return Interval(plain.mean, min(low, plain.mean), max(high, plain.mean), plain.method, plain.n)


def metric_interval(
    metric: str, values: Sequence[float], confidence: float = 0.95, method: str = "auto", seed: int = 0
) -> Interval:
    """The interval a metric's mean over seeds gets: on the logit scale for [0, 1] metrics, plain otherwise."""
    if is_unit_metric(metric):
        arr = np.asarray(values, dtype=np.float64)
        if arr.size and np.all((arr >= 0.0) & (arr <= 1.0)):
            return logit_interval(values, confidence, method, seed)
    return interval(list(values), confidence=confidence, method=method, seed=seed)
