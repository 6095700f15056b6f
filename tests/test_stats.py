"""bench.analysis.stats: hand-computed intervals, exact sign-flip p-values, Holm, Kaplan–Meier, and t-vs-bootstrap
coverage."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.analysis.stats import (
    Interval,
    KMResult,
    bootstrap_interval,
    holm,
    interval,
    kaplan_meier_median,
    sign_flip_pvalue,
    t_interval,
)

# ----------------------------------------------------------------------------------------------------------
# Intervals


def test_t_interval_hand_computed():
    # mean 2, s = 1, t_{0.975, 2} = 4.302653: 2 ± 4.302653 / √3.
    iv = t_interval([1.0, 2.0, 3.0])
    half = 4.302653 / math.sqrt(3)
    assert iv.method == "t" and iv.n == 3 and iv.mean == 2.0
    assert iv.low == pytest.approx(2 - half, abs=1e-4)
    assert iv.high == pytest.approx(2 + half, abs=1e-4)
    assert iv.low == pytest.approx(-0.4841, abs=1e-4)
    assert iv.high == pytest.approx(4.4841, abs=1e-4)


def test_identical_values_give_zero_width_interval_without_nan():
    assert t_interval([2.0, 2.0]) == Interval(mean=2.0, low=2.0, high=2.0, method="t", n=2)
    assert t_interval([0.1, 0.1, 0.1]) == Interval(mean=0.1, low=0.1, high=0.1, method="t", n=3)
    assert bootstrap_interval([0.1] * 4) == Interval(mean=0.1, low=0.1, high=0.1, method="bootstrap", n=4)
    assert interval([0.7] * 12) == Interval(mean=0.7, low=0.7, high=0.7, method="bootstrap", n=12)


def test_one_value_has_no_interval():
    for iv in (interval([0.5]), interval([0.5], method="t"), interval([0.5], method="bootstrap")):
        assert iv == Interval(mean=0.5, low=None, high=None, method="none", n=1)


def test_auto_uses_t_below_ten_and_bootstrap_from_ten():
    values = list(np.linspace(0.0, 1.0, 10))
    assert interval(values[:9]).method == "t"
    assert interval(values[:9]) == t_interval(values[:9])
    assert interval(values).method == "bootstrap"
    assert interval(values, seed=3) == bootstrap_interval(values, seed=3)
    assert interval(values[:9], method="bootstrap").method == "bootstrap"
    assert interval(values, method="t").method == "t"


def test_bad_inputs_raise():
    with pytest.raises(ValueError):
        interval([])
    with pytest.raises(ValueError):
        t_interval([1.0, float("nan")])
    with pytest.raises(ValueError):
        t_interval([1.0, 2.0], confidence=1.0)
    with pytest.raises(ValueError):
        bootstrap_interval([1.0, 2.0], resamples=0)
    with pytest.raises(ValueError):
        interval([1.0, 2.0], method="z")  # type: ignore[arg-type]


def test_bootstrap_interval_matches_old_algorithm():
    values = [0.31, 0.42, 0.27, 0.55, 0.38]
    seed, resamples, confidence = 7, 10_000, 0.9
    # The leaderboard's former bootstrap, step by step: one index matrix from default_rng(seed), percentile quantiles.
    arr = np.asarray(values)
    idx = np.random.default_rng(seed).integers(0, arr.size, size=(resamples, arr.size))
    low, high = np.quantile(arr[idx].mean(axis=1), [0.05, 0.95])
    iv = bootstrap_interval(values, confidence=confidence, resamples=resamples, seed=seed)
    assert iv.mean == float(arr.mean())
    assert iv.low == float(min(low, arr.mean()))
    assert iv.high == float(max(high, arr.mean()))
    assert iv.method == "bootstrap" and iv.n == 5


# ----------------------------------------------------------------------------------------------------------
# Sign-flip test


def test_sign_flip_exact_hand_computed():
    # [1, 2, 3]: of the 8 sign patterns only +++ and --- reach |sum| = 6.
    assert sign_flip_pvalue([1.0, 2.0, 3.0]) == 0.25
    assert sign_flip_pvalue([1.0, -1.0]) == 1.0
    assert sign_flip_pvalue([0.0, 0.0, 0.0]) == 1.0
    assert sign_flip_pvalue([1.0] * 10) == 2 / 1024
    assert sign_flip_pvalue([]) is None
    assert sign_flip_pvalue([0.4]) == 1.0  # one seed: both patterns are as extreme


def test_sign_flip_counts_float_ties():
    # -0.3 + 0.1 + 0.2 is zero only up to rounding; the patterns it creates must tie with the observed one.
    # Count the extreme patterns by brute force in exact integer arithmetic (the data times 10).
    x = [0.3, -0.1, -0.2, 0.5]
    count = 0
    for k in range(16):
        signs = [1 - 2 * ((k >> i) & 1) for i in range(4)]
        total = sum(s * v for s, v in zip(signs, [3, -1, -2, 5], strict=True))  # exact in integers (x10)
        count += abs(total) >= 5
    assert sign_flip_pvalue(x) == count / 16


def test_sign_flip_monte_carlo_seeded_and_close_to_exact():
    d = np.random.default_rng(11).normal(0.4, 1.0, 25)
    p_mc = sign_flip_pvalue(d, seed=5)
    assert p_mc == sign_flip_pvalue(d, seed=5)  # reproducible
    p_exact = sign_flip_pvalue(d, max_exact=25)  # all 2^25 patterns (meet-in-the-middle keeps it fast)
    assert p_mc != p_exact
    assert p_mc == pytest.approx(p_exact, abs=0.005)  # Monte Carlo SE at 100,000 resamples is ~0.001
    # Normal theory: under the null Σ±d_i has mean 0 and variance Σd_i², so p ≈ 2(1 - Φ(|Σd| / √Σd²)).
    z = abs(d.sum()) / math.sqrt(float((d**2).sum()))
    p_normal = math.erfc(z / math.sqrt(2))
    assert 0.001 < p_exact < 0.5
    assert p_mc == pytest.approx(p_normal, rel=0.3)


# ----------------------------------------------------------------------------------------------------------
# Holm


def test_holm_hand_computed():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    adjusted = holm([0.01, None, 0.04, 0.03, None])
    assert adjusted[1] is None and adjusted[4] is None
    assert [adjusted[i] for i in (0, 2, 3)] == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.6]) == [1.0, 1.0]  # capped at 1
    assert holm([None]) == [None]
    assert holm([]) == []
    with pytest.raises(ValueError):
        holm([1.5])


# ----------------------------------------------------------------------------------------------------------
# Kaplan–Meier


def test_kaplan_meier_all_observed():
    # S: 2/3 after 3, 1/3 after 5: the first time at or below 0.5 is 5.
    assert kaplan_meier_median([3, 5, 7], [True, True, True]) == KMResult(median=5.0, events=3, n=3)


def test_kaplan_meier_with_censoring_hand_computed():
    # At risk 4 at t=2, one event: S = 3/4. Censored at 4. At risk 2 at t=6, one event: S = 3/4 · 1/2 = 3/8.
    result = kaplan_meier_median([2, 4, 6, 8], [True, False, True, False])
    assert result == KMResult(median=6.0, events=2, n=4)


def test_kaplan_meier_exactly_half_counts_as_reached():
    # S after 2 is 1/2 exactly: the median is 2 (smallest t with S(t) <= 0.5).
    assert kaplan_meier_median([1, 2, 3, 4], [True] * 4).median == 2.0
    # 3/4 · 2/3 is 0.5 only up to float rounding; ties of event and censoring at 2 count the event first.
    assert kaplan_meier_median([1, 2, 2, 3], [True, True, False, False]).median == 2.0


def test_kaplan_meier_not_reached():
    assert kaplan_meier_median([4, 4, 4], [False, False, False]) == KMResult(median=None, events=0, n=3)
    assert kaplan_meier_median([2, 9, 9, 9], [True, False, False, False]) == KMResult(median=None, events=1, n=4)
    with pytest.raises(ValueError):
        kaplan_meier_median([1, 2], [True])


# ----------------------------------------------------------------------------------------------------------
# Coverage: why `auto` uses t below 10 seeds


def _coverage(n: int, method: str, trials: int = 2_000) -> float:
    rng = np.random.default_rng(20_240 + n)
    samples = rng.normal(0.0, 1.0, size=(trials, n))  # true mean 0
    hits = 0
    for i, sample in enumerate(samples):
        if method == "t":
            iv = t_interval(sample)
        else:
            iv = bootstrap_interval(sample, resamples=2_000, seed=i)
        hits += iv.low <= 0.0 <= iv.high
    return hits / trials


@pytest.mark.slow
def test_t_interval_covers_and_small_n_bootstrap_does_not():
    coverage = {(m, n): _coverage(n, m) for m, n in [("t", 3), ("t", 5), ("bootstrap", 3), ("bootstrap", 5)]}
    coverage[("bootstrap", 10)] = _coverage(10, "bootstrap")
    print("coverage of nominal 95% intervals:", {f"{m}@{n}": c for (m, n), c in coverage.items()})
    assert abs(coverage[("t", 3)] - 0.95) <= 0.015
    assert abs(coverage[("t", 5)] - 0.95) <= 0.015
    assert coverage[("bootstrap", 3)] < 0.85
    assert coverage[("bootstrap", 3)] < coverage[("bootstrap", 5)] < coverage[("bootstrap", 10)] < 0.95
