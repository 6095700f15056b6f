"""What earlier runs measured: per learner setup, how long a fit and a sample took on this device.

A five-step probe is at the mercy of whatever else the machine does in those seconds (the same suite was
estimated at 41 min and at 8 min minutes apart on a loaded machine). A results directory already holds the real
timings of every generation it ran (``generations.train_seconds``, ``sample_seconds``), and the run's resolved
configuration says which learner setup (model, training, task, data: what a fit depends on) and device made them.
:func:`stored_rates` reads them back, so ``bench validate --estimate`` can use whole fits of the same setup
instead of, or next to, its probe.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# What a fit depends on (bench.run.estimate's probe key, in the resolved configuration's JSON form).
SETUP_FIELDS: tuple[str, ...] = ("model", "training", "task", "data")


def setup_key(scenario: Mapping[str, Any]) -> str:
    """A learner setup's key from one resolved scenario in JSON form (stored config or ``model_dump(mode="json")``)."""
    return json.dumps({name: scenario.get(name) for name in SETUP_FIELDS}, sort_keys=True)


@dataclass(frozen=True)
class StoredRates:
    """Timings of one learner setup from earlier runs: seconds per fit and per sample (low, median, high)."""

    fits: int
    fit_seconds: tuple[float, float, float]
    seconds_per_sample: tuple[float, float, float] | None
    runs: int


def _spread(values: list[float]) -> tuple[float, float, float]:
    return min(values), statistics.median(values), max(values)


def stored_rates(results: str | Path, device: str) -> dict[str, StoredRates]:
    """Per setup key, the timings the runs in ``results`` recorded on ``device``; empty when there are none.

    Generation 0 of a scenario that took it from the shared cache repeats the fitted scenario's record, so each
    (run, seed) counts its generation-0 fit once.
    """
    from bench.store.database import Store
    from bench.store.errors import StoreError
    from bench.store.schema import GENERATION_COLUMNS

    store = Store(results)
    if not store.exists():
        return {}
    try:
        runs = {r.run_id: r for r in store.runs() if r.device == device}
        rows = store.table("generations") if runs else []
    except StoreError:
        return {}
    keys: dict[tuple[str, str], tuple[str, int]] = {}  # (run, scenario) -> (setup key, samples per generation)
    for run_id, run in runs.items():
        config = run.settings()
        for scenario in config.get("scenarios", []):
            size = (scenario.get("sampling") or {}).get("n") or (scenario.get("data") or {}).get("size") or 0
            keys[(run_id, scenario.get("name"))] = (setup_key(scenario), int(size))
    names = [name for name, _ in GENERATION_COLUMNS]
    fits: dict[str, list[float]] = {}
    samples: dict[str, list[float]] = {}
    used_runs: dict[str, set[str]] = {}
    seen_zero: set[tuple[str, str, int]] = set()
    for row in rows:
        record = dict(zip(names, row, strict=False))
        found = keys.get((record["run_id"], record["scenario"]))
        if found is None:
            continue
        key, size = found
        train, sample = record["train_seconds"], record["sample_seconds"]
        zero = (record["run_id"], key, int(record["seed"]))
        if record["generation"] == 0:
            if zero in seen_zero:
                continue
            seen_zero.add(zero)
        if isinstance(train, int | float) and train >= 0:
            fits.setdefault(key, []).append(float(train))
            used_runs.setdefault(key, set()).add(record["run_id"])
        if isinstance(sample, int | float) and sample > 0 and size:
            samples.setdefault(key, []).append(float(sample) / size)
    return {
        key: StoredRates(
            len(values), _spread(values), _spread(samples[key]) if key in samples else None, len(used_runs[key])
        )
        for key, values in fits.items()
    }
