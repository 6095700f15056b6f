"""Each regime's data-set composition matches its formula in docs/design.md (sizes and real/synthetic shares)."""

from __future__ import annotations

import random

import pytest

from bench.regimes import (
    AccumulateRegime,
    AccumulateSubsampleRegime,
    DataSet,
    FixedRealRegime,
    IncrementalRegime,
    NoSamplesLeftError,
    RegimeInputs,
    ReplaceRegime,
    draw,
)

N = 100


def inputs(previous: DataSet | None = None, samples: int = N, history: int = 1) -> RegimeInputs:
    """R, S_g and a history of ``history`` generations of N synthetic samples each (S_g the last of them)."""
    real = DataSet.of([f"real {i}" for i in range(N)], "real")
    synthetic = DataSet.of([f"syn {i}" for i in range(samples)], "synthetic")
    earlier = DataSet.of([f"old {g} {i}" for g in range(history - 1) for i in range(N)], "synthetic")

    def fresh(k: int) -> DataSet:
        return DataSet.of([f"fresh {i}" for i in range(k)], "fresh")

    return RegimeInputs(
        previous=previous if previous is not None else real,
        samples=synthetic,
        real=real,
        fresh=fresh,
        history=lambda: earlier + synthetic,
        size=N,
        rng=random.Random(0),
    )


def test_replace_is_all_synthetic():
    out = ReplaceRegime(kind="replace").next_data_set(inputs())
    assert len(out) == N and out.share("synthetic") == 1.0
    assert sorted(out.texts) == sorted(f"syn {i}" for i in range(N))  # |S| = N: every sample once


@pytest.mark.parametrize("rho", [0.0, 0.25, 0.5, 1.0])
def test_fixed_real_original(rho):
    out = FixedRealRegime(kind="fixed_real", fraction=rho).next_data_set(inputs())
    assert len(out) == N
    assert out.share("real") == pytest.approx(rho)
    assert out.share("synthetic") == pytest.approx(1 - rho)
    real_texts = [t for t, o in zip(out.texts, out.origins, strict=True) if o == "real"]
    assert len(set(real_texts)) == len(real_texts)  # drawn without replacement


def test_fixed_real_fresh_source():
    out = FixedRealRegime(kind="fixed_real", fraction=0.3, source="fresh").next_data_set(inputs())
    assert out.share("fresh") == pytest.approx(0.3) and out.share("real") == 0.0


@pytest.mark.parametrize("lam", [0.5, 0.9])
def test_incremental_mixes_previous_and_new(lam):
    previous = DataSet.of([f"prev {i}" for i in range(N)], "real")
    out = IncrementalRegime(kind="incremental", synthetic_fraction=lam).next_data_set(inputs(previous))
    assert len(out) == N
    assert out.share("synthetic") == pytest.approx(lam)
    assert sum(t.startswith("prev") for t in out.texts) == round((1 - lam) * N)


def test_accumulate_grows_by_samples_and_fresh():
    previous = DataSet.of([f"prev {i}" for i in range(N)], "real")
    plain = AccumulateRegime(kind="accumulate").next_data_set(inputs(previous))
    assert len(plain) == 2 * N and plain.share("synthetic") == 0.5 and plain.share("fresh") == 0.0
    fresh = AccumulateRegime(kind="accumulate", fresh_fraction=0.25).next_data_set(inputs(previous))
    # |F| = φ/(1-φ)·|S| = 0.25/0.75·100 ≈ 33: fresh data is a quarter of what is added.
    assert len(fresh) == 2 * N + 33
    assert fresh.origins.count("fresh") == 33


def test_accumulate_subsample_draws_from_the_whole_pool():
    """Kazdan et al.: a size-N subsample of R ∪ S_0 ∪ … ∪ S_g, whatever T_g was."""
    previous = DataSet.of([f"prev {i}" for i in range(N)], "synthetic")  # T_g: never drawn from directly
    for generations in (1, 4, 9):
        out = AccumulateSubsampleRegime(kind="accumulate_subsample").next_data_set(
            inputs(previous, history=generations)
        )
        assert len(out) == N and len(set(out.texts)) == N  # without replacement
        assert not any(t.startswith("prev") for t in out.texts)
        pool = N * (generations + 1)
        expected_real = N * N / pool  # hypergeometric mean: N draws from a pool with N real items
        sd = (N * (N / pool) * (1 - N / pool) * (pool - N) / (pool - 1)) ** 0.5
        assert abs(out.origins.count("real") - expected_real) <= 4 * sd


def test_draw_fills_with_replacement_when_short():
    items = DataSet.of(["a", "b"], "synthetic")
    out = draw(items, 5, random.Random(1))
    assert len(out) == 5 and {"a", "b"} <= set(out.texts)


def test_draw_from_nothing_is_a_clear_error():
    with pytest.raises(NoSamplesLeftError, match="no samples left"):
        draw(DataSet((), ()), 3, random.Random(0))


def test_replace_with_few_surviving_samples_still_has_size_n():
    out = ReplaceRegime(kind="replace").next_data_set(inputs(samples=10))
    assert len(out) == N and set(out.texts) == {f"syn {i}" for i in range(10)}
