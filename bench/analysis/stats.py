"""Honest intervals and tests for a handful of seeds.

A suite runs each scenario for few seeds (often 3 to 5), so the statistics must be the ones that stay
correct at small n:

- :func:`interval` gives a confidence interval of a mean over seeds: the Student-t interval below 10 values
  (:func:`t_interval`), the percentile bootstrap from 10 up (:func:`bootstrap_interval`), and no interval at
  all for one value. The percentile bootstrap undercovers badly at 3 to 5 values (it cannot see beyond the
  observed values and uses normal rather than t quantiles), which is why ``auto`` does not use it there.
- :func:`sign_flip_pvalue` tests a paired difference (scenario minus baseline, per seed) with an exact
  permutation test, and :func:`holm` adjusts a family of those p-values for multiple comparisons.
- :func:`kaplan_meier_median` estimates the median "generations until collapse" when some seeds never
  collapse within the generations that were run (right-censored times).

Everything here is pure: sequences of floats in, small frozen dataclasses and floats out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats as sps

# Below this many values `interval(method="auto")` uses the t interval, from it up the percentile bootstrap.
AUTO_BOOTSTRAP_MIN_N = 10


@dataclass(frozen=True)
class Interval:
    """A mean over ``n`` values and its confidence interval ``[low, high]``.

    ``method`` is ``"t"``, ``"bootstrap"``, or ``"none"``: one value has no interval, and then ``low`` and
    ``high`` are ``None`` (a display shows "–" rather than a zero-width interval that would claim certainty).
    """

    mean: float
    low: float | None
    high: float | None
    method: str
    n: int


@dataclass(frozen=True)
class KMResult:
    """Kaplan–Meier median time to event over ``n`` runs, ``events`` of which had the event.

    ``median`` is ``None`` when the survival curve never falls to 0.5 ("not reached": at least half the runs
    are still event-free at the end of the observed time, so the median is only known to lie beyond it).
    """

    median: float | None
    events: int
    n: int


# ----------------------------------------------------------------------------------------------------------
# Input checks


def _finite_values(values: Sequence[float], name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64).ravel()
    if arr.size == 0:
        raise ValueError(f"{name} needs at least one value")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} needs finite values, got {arr.tolist()}")
    return arr


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")


def _no_interval(arr: np.ndarray) -> Interval:
    # One value: the spread, and so any interval, is undefined; say so instead of inventing a zero width.
    return Interval(mean=float(arr[0]), low=None, high=None, method="none", n=1)


# ----------------------------------------------------------------------------------------------------------
# Intervals of a mean


def _degenerate(arr: np.ndarray, method: str) -> Interval | None:
    """One value: no interval. Identical values: the zero-width interval at the value, exact (no float noise from
    averaging; there is no spread, so no uncertainty to estimate). Otherwise ``None``."""
    if arr.size == 1:
        return _no_interval(arr)
    if np.all(arr == arr[0]):
        v = float(arr[0])
        return Interval(mean=v, low=v, high=v, method=method, n=int(arr.size))
    return None


def t_interval(values: Sequence[float], confidence: float = 0.95) -> Interval:
    """Student-t confidence interval of the mean of ``values``.

    The classical interval ``mean ± t_{(1+c)/2, n-1} · s / √n`` with ``s`` the sample standard deviation
    (``ddof=1``) and ``t_{q, n-1}`` the q-quantile of Student's t distribution with n-1 degrees of freedom
    (``scipy.stats.t.ppf``). It is exact for normal data at any n ≥ 2, and its wide quantiles at small n
    (4.30 at n=3 for 95%) are what honest uncertainty over three seeds looks like.

    One value gives ``method="none"`` with ``low``/``high`` ``None``; identical values give the zero-width
    interval at that value.
    """
    arr = _finite_values(values, "t_interval")
    _check_confidence(confidence)
    n = int(arr.size)
    degenerate = _degenerate(arr, "t")
    if degenerate is not None:
        return degenerate
    mean = float(arr.mean())
    sem = float(arr.std(ddof=1)) / math.sqrt(n)
    half = float(sps.t.ppf((1.0 + confidence) / 2.0, n - 1)) * sem
    return Interval(mean=mean, low=mean - half, high=mean + half, method="t", n=n)


def bootstrap_interval(
    values: Sequence[float], confidence: float = 0.95, resamples: int = 10_000, seed: int = 0
) -> Interval:
    """Percentile-bootstrap confidence interval of the mean of ``values``.

    The percentile interval of Efron & Tibshirani (*An Introduction to the Bootstrap*, 1993, ch. 13): draw
    ``resamples`` resamples of size n with replacement and take the ``(1 - c)/2`` and ``(1 + c)/2``
    quantiles of their means. One index matrix from ``numpy.random.default_rng(seed).integers(0, n,
    size=(resamples, n))``, ``np.quantile``'s default linear interpolation, low/high clamped around the mean: the
    algorithm of the leaderboard's own bootstrap that this function replaced, so earlier runs' intervals are
    unchanged (``tests/test_stats.py`` recomputes it step by step).

    It undercovers at small n (about 75% nominal-95% coverage at n=3 for normal data), so prefer
    :func:`interval`, which uses it only from 10 values up. One value gives ``method="none"`` (the replaced
    bootstrap gave a zero-width interval there); identical values give the zero-width interval at the value.
    """
    arr = _finite_values(values, "bootstrap_interval")
    _check_confidence(confidence)
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples}")
    n = int(arr.size)
    degenerate = _degenerate(arr, "bootstrap")
    if degenerate is not None:
        return degenerate
    mean = float(arr.mean())
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(resamples, n))
    means = arr[idx].mean(axis=1)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    # Quantiles of resampled means can miss the sample mean by float rounding only; keep low <= mean <= high.
    return Interval(mean=mean, low=float(min(low, mean)), high=float(max(high, mean)), method="bootstrap", n=n)


def interval(
    values: Sequence[float],
    confidence: float = 0.95,
    method: Literal["auto", "t", "bootstrap"] = "auto",
    seed: int = 0,
) -> Interval:
    """Confidence interval of the mean of ``values`` by the method that is honest at this n.

    ``auto`` uses the Student-t interval (:func:`t_interval`) for fewer than 10 values and the percentile
    bootstrap (:func:`bootstrap_interval`, 10,000 resamples from ``seed``) from 10 up, where it no longer
    leans on normality and its undercoverage has shrunk (about 90% for a nominal 95% at n=10 on normal data,
    against about 75% at n=3). One value gives ``method="none"`` and no bounds.
    """
    if method == "auto":
        n = np.asarray(values).size
        method = "t" if n < AUTO_BOOTSTRAP_MIN_N else "bootstrap"
    if method == "t":
        return t_interval(values, confidence)
    if method == "bootstrap":
        return bootstrap_interval(values, confidence, seed=seed)
    raise ValueError(f"method must be 'auto', 't' or 'bootstrap', got {method!r}")


# ----------------------------------------------------------------------------------------------------------
# Paired test and multiple comparisons


def _all_sign_sums(x: np.ndarray) -> np.ndarray:
    """The 2^k sums ``Σ ±x_i`` over every sign pattern of ``x`` (length k), in no particular order."""
    sums = np.zeros(1, dtype=np.float64)
    for xi in x:
        sums = np.concatenate([sums + xi, sums - xi])
    return sums


def sign_flip_pvalue(
    differences: Sequence[float], seed: int = 0, max_exact: int = 20, resamples: int = 100_000
) -> float | None:
    """Two-sided paired sign-flip permutation test of "mean difference = 0".

    The permutation test of Fisher (*The Design of Experiments*, 1935, §21) and Pitman (1937) for paired
    data: under the null hypothesis each per-seed difference (scenario minus baseline) is symmetric about
    zero, so its sign is a coin flip. The p-value is the share of the 2^n sign patterns whose mean has
    ``|mean*| ≥ |mean_obs|`` (ties count; values within float rounding of ``|mean_obs|`` are ties).

    For n ≤ ``max_exact`` every pattern is counted exactly; above, ``resamples`` random patterns from
    ``numpy.random.default_rng(seed)`` give ``p = (1 + #{|mean*| ≥ |mean_obs|}) / (1 + resamples)``, which
    never reports 0 and is a valid p-value (Phipson & Smyth 2010).

    With n seeds the smallest possible two-sided p is 2/2^n: 0.25 at 3 seeds, 0.0625 at 5, about 0.002 at
    10. So a comparison over 3 or 4 seeds can never be significant at 0.05, however large the effect — that
    is the honest answer, not a defect: 3 seeds cannot rule out chance.

    Returns ``None`` for no differences and 1.0 when every difference is zero.
    """
    x = np.asarray(differences, dtype=np.float64).ravel()
    if x.size == 0:
        return None
    if not np.all(np.isfinite(x)):
        raise ValueError(f"sign_flip_pvalue needs finite differences, got {x.tolist()}")
    if max_exact < 0:
        raise ValueError(f"max_exact must be >= 0, got {max_exact}")
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples}")
    scale = float(np.abs(x).sum())
    if scale == 0.0:
        return 1.0
    n = int(x.size)
    # The sum is the mean times n, so compare sums: no division, same test. The tolerance is relative to the
    # data's scale (Σ|x|), far above the rounding of any sum of n terms, so theoretical ties count as ties.
    threshold = abs(float(x.sum())) - 1e-12 * scale
    if threshold <= 0.0:
        return 1.0  # the observed mean is (numerically) zero: every pattern is at least as extreme

    if n <= max_exact:
        # Exact, by meet-in-the-middle: every pattern's sum is l + r with l from the first half's 2^h sign
        # sums and r from the second half's. For each l, count r with |l + r| >= t, i.e. r >= t - l or
        # r <= -t - l (disjoint since t > 0), by binary search in the sorted r: O(2^(n/2) log) not O(2^n).
        h = n // 2
        left = _all_sign_sums(x[:h])
        right = np.sort(_all_sign_sums(x[h:]))
        upper = right.size - np.searchsorted(right, threshold - left, side="left")
        lower = np.searchsorted(right, -threshold - left, side="right")
        extreme = int(upper.sum() + lower.sum())
        return extreme / float(2**n)

    rng = np.random.default_rng(seed)
    extreme = 0
    chunk = max(1, min(resamples, (1 << 22) // n))  # bounds memory to ~4M signs (32 MB) at a time
    done = 0
    while done < resamples:
        size = min(chunk, resamples - done)
        signs = 1.0 - 2.0 * rng.integers(0, 2, size=(size, n))
        extreme += int(np.count_nonzero(np.abs(signs @ x) >= threshold))
        done += size
    return (1 + extreme) / (1 + resamples)


def paired_t_pvalue(differences: Sequence[float]) -> float | None:
    """Two-sided paired t-test of "mean difference = 0" (Student 1908): ``scipy.stats.ttest_1samp`` on the per-seed
    differences. It assumes the differences are normal; unlike the sign-flip test its p-value is not bounded below
    by the number of seeds. ``None`` below two differences or when they are all equal and nonzero (t undefined);
    1.0 when every difference is zero."""
    x = np.asarray(differences, dtype=np.float64).ravel()
    if x.size < 2:
        return None
    if not np.all(np.isfinite(x)):
        raise ValueError(f"paired_t_pvalue needs finite differences, got {x.tolist()}")
    if not np.any(x):
        return 1.0
    if np.all(x == x[0]):
        return None
    return float(sps.ttest_1samp(x, 0.0).pvalue)


def smallest_sign_flip_p(n_seeds: int, max_exact: int = 20, resamples: int = 100_000) -> float:
    """The smallest two-sided p-value :func:`sign_flip_pvalue` can give over ``n_seeds`` paired seeds: 2/2^n when
    exact (all differences of one sign; the pattern and its mirror image are the two as extreme), and
    1/(1 + resamples) above ``max_exact`` seeds, where the patterns are sampled."""
    exact = min(1.0, 2.0 / 2.0**n_seeds)
    return exact if n_seeds <= max_exact else max(exact, 1.0 / (1 + resamples))


def holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Holm–Bonferroni step-down adjusted p-values, in the input order.

    Holm (1979), "A simple sequentially rejective multiple test procedure": sort the m p-values ascending,
    ``p_(1) ≤ … ≤ p_(m)``; the adjusted value of the i-th is ``max_{j ≤ i} min(1, (m - j + 1) · p_(j))``.
    Rejecting where the adjusted p ≤ α controls the family-wise error rate at α under any dependence, and it
    is uniformly more powerful than plain Bonferroni. ``None`` entries (no test possible) pass through as
    ``None`` and do not count in m.
    """
    present = [(i, p) for i, p in enumerate(pvalues) if p is not None]
    for _, p in present:
        if not 0.0 <= p <= 1.0:  # also rejects NaN
            raise ValueError(f"p-values must be in [0, 1] or None, got {p}")
    m = len(present)
    adjusted: list[float | None] = [None] * len(pvalues)
    running = 0.0
    # Stable sort: tied p-values keep input order, and the running max gives them the same adjusted value.
    for rank, (i, p) in enumerate(sorted(present, key=lambda item: item[1])):
        running = max(running, min(1.0, (m - rank) * p))  # the max keeps adjusted values monotone in p
        adjusted[i] = running
    return adjusted


# ----------------------------------------------------------------------------------------------------------
# Time to collapse


def kaplan_meier_median(times: Sequence[float], observed: Sequence[bool]) -> KMResult:
    """Kaplan–Meier median of "generations until collapse" over seeds, some of which never collapsed.

    ``times[i]`` is the first generation at which seed i hit the event (e.g. collapse), or, if it never did,
    its last observed generation with ``observed[i] = False`` (right-censored: it survived at least that
    long). The survival function is the product-limit estimator of Kaplan & Meier (1958), "Nonparametric
    estimation from incomplete observations", ``S(t) = Π_{t_j ≤ t} (1 - d_j / n_j)``, computed by
    ``scipy.stats.ecdf`` on ``scipy.stats.CensoredData`` (events at a time count before censorings at that
    time). The median is the smallest time t with ``S(t) ≤ 0.5``, or ``None`` when the curve never gets there
    ("not reached"). Simply averaging the times would treat survivors as collapsing at the last generation
    and bias the estimate down.
    """
    t = _finite_values(times, "kaplan_meier_median")
    obs = np.asarray(observed, dtype=bool).ravel()
    if obs.shape != t.shape:
        raise ValueError(f"times and observed need the same length, got {t.size} and {obs.size}")
    events = int(obs.sum())
    n = int(t.size)
    if events == 0:
        return KMResult(median=None, events=0, n=n)  # nothing happened: S stays 1
    sf = sps.ecdf(sps.CensoredData(uncensored=t[obs], right=t[~obs])).sf
    # The tolerance lets a product such as 3/4 · 2/3 that is 0.5 in exact arithmetic count as reaching 0.5.
    reached = np.nonzero(sf.probabilities <= 0.5 + 1e-12)[0]
    median = float(sf.quantiles[reached[0]]) if reached.size else None
    return KMResult(median=median, events=events, n=n)
