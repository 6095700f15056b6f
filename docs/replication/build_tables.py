"""Build the replication tables and figures from a run of ``suites/replication_cpu.yaml``.

    python docs/replication/build_tables.py --results results/replication --out docs/replication

reads the latest run of suite ``replication_cpu`` from the results directory (through
:class:`bench.store.database.Store`, which respects the database lock), and of ``replication_more_cpu`` (the incremental
cycles, fresh data and the temperature ablation) and ``replication_fresh_cpu`` when present. It refuses (exit 2) any run
made from a checkout with uncommitted changes or whose commit is not an ancestor of HEAD
(:func:`bench.run.provenance.publication_problem`): published tables are rebuilt from code that is in the history. It
writes:

- ``cycles.csv``: one row per scenario: correctness at generation 1 and at the last generation, the diversity
  decline from generation 0 to the last generation in %, unique outputs at generation 0 and last (each a mean over
  seeds with a 95% CI), and per seed the first generation whose correctness reaches 0.99;
- ``per_generation.csv``: scenario, generation, metric, mean, CI, for the verdict shares and diversity metrics;
- ``temperature.csv``: the rows of ``cycles.csv`` for the temperature ablation, with the temperature;
- ``fresh_policy.csv``: the rows of ``cycles.csv`` for expanding without fresh data, with 25% independent and with
  25% disjoint fresh data, and ``fresh_leaderboard.csv``: the two fresh-data cycles against expanding, paired by
  seed (the study's comparison: the same cycle with and without fresh data);
- ``leaderboard.csv``: :func:`bench.analysis.leaderboard.build_leaderboard` as CSV;
- ``figures/*.png``: :func:`bench.report.page.write_report` for the four cycles, and the same figures for the
  temperature ablation under ``figures/temperature_*.png``.

Every CI (the ``*_ci_low``/``*_ci_high`` columns) is :func:`bench.analysis.stats.interval` with ``method="auto"``, as in
the leaderboard: the Student-t interval below 10 seeds (so the suite's 3 seeds get t intervals), the percentile
bootstrap (10,000 resamples, seed 0) from 10 seeds up, and no interval (blank bounds) for a single seed. Tables built
before this switch used the percentile bootstrap at every n, which is too narrow at 3 seeds; rebuild them to compare.

The summaries are pure functions of :class:`bench.records.MetricRow` lists (tested in
``tests/test_replication.py``); only :func:`main` touches the disk. Like the leaderboard, a scenario is summarized
over the generations *every* one of its seeds finished, so a partial run gives consistent (shorter) numbers.
"""

from __future__ import annotations

import argparse
import csv
import math
import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.analysis.leaderboard import build_leaderboard, collect_curves, primary_contrast
from bench.analysis.leaderboard_formats import format_leaderboard
from bench.analysis.stats import interval
from bench.records import MetricRow, RunRow
from bench.report.page import write_report
from bench.run.provenance import publication_problem
from bench.store.database import Store
from bench.store.errors import StoreError

SUITE = "replication_cpu"
# The scenarios that do not fit replication_cpu's hour (same settings and seeds; its baseline repeats the main one's).
MORE_SUITE = "replication_more_cpu"
# Companion suite: the expanding cycle with fresh data disjoint from R (data.fresh: disjoint).
FRESH_SUITE = "replication_fresh_cpu"
FRESH_SCENARIOS: tuple[str, ...] = ("expanding", "expanding_fresh_0.25", "expanding_fresh_0.25_disjoint")
CYCLE_SCENARIOS: tuple[str, ...] = (
    "full_synthetic",
    "balanced",
    "incremental_0.5",
    "incremental_0.9",
    "expanding",
    "expanding_fresh_0.25",
)
TEMPERATURE_SCENARIOS: tuple[str, ...] = ("full_synthetic_t0.6", "full_synthetic", "full_synthetic_t1.0")
PER_GENERATION_METRICS: tuple[str, ...] = (
    "correct",
    "incorrect",
    "invalid",
    "diversity_levenshtein",
    "unique_count",
    "unique_ratio",
    "real_nll",
)
SUMMARY_METRICS: tuple[str, ...] = ("correct", "diversity_levenshtein", "unique_count")
HELD_OUT_METRIC = "real_nll"  # summarized when the rows carry it (runs before it existed do not)
CORRECT_THRESHOLD = 0.99
NEVER = "never"
DIGITS = 4  # CSV values are rounded to this many decimals: the tables are for reading, the database keeps all

CYCLE_COLUMNS: tuple[str, ...] = (
    "scenario",
    "n_seeds",
    "n_generations",
    "correct_gen0",
    "correct_gen0_ci_low",
    "correct_gen0_ci_high",
    "correct_gen1",
    "correct_gen1_ci_low",
    "correct_gen1_ci_high",
    "correct_last",
    "correct_last_ci_low",
    "correct_last_ci_high",
    "diversity_gen0",
    "diversity_gen0_ci_low",
    "diversity_gen0_ci_high",
    "diversity_last",
    "diversity_last_ci_low",
    "diversity_last_ci_high",
    "diversity_decline_pct",
    "diversity_decline_pct_ci_low",
    "diversity_decline_pct_ci_high",
    "unique_gen0",
    "unique_gen0_ci_low",
    "unique_gen0_ci_high",
    "unique_last",
    "unique_last_ci_low",
    "unique_last_ci_high",
    "real_nll_gen0",
    "real_nll_gen0_ci_low",
    "real_nll_gen0_ci_high",
    "real_nll_last",
    "real_nll_last_ci_low",
    "real_nll_last_ci_high",
    "seeds",
    "first_gen_correct_099",
)


# ----------------------------------------------------------------------------------------------------------
# Pure summaries


def decline_percent(first: float, last: float) -> float:
    """Relative change from ``first`` to ``last`` in percent: ``100 * (last / first - 1)`` (negative = decline)."""
    if first == 0:
        raise ValueError("decline_percent needs a non-zero first value")
    return 100.0 * (last / first - 1.0)


def first_generation_at_least(values: Sequence[float], threshold: float = CORRECT_THRESHOLD) -> int | None:
    """The first generation (index into ``values``) whose value is ``>= threshold``; ``None`` if none is."""
    return next((g for g, v in enumerate(values) if v >= threshold), None)


def _ci(values: Sequence[float], prefix: str, confidence: float, seed: int) -> dict[str, float | None]:
    """``prefix``, ``prefix_ci_low``, ``prefix_ci_high``: the mean over seeds and its ``interval`` (auto method)."""
    estimate = interval(list(values), confidence=confidence, method="auto", seed=seed)
    return {prefix: estimate.mean, f"{prefix}_ci_low": estimate.low, f"{prefix}_ci_high": estimate.high}


def _blank(prefix: str) -> dict[str, None]:
    return {prefix: None, f"{prefix}_ci_low": None, f"{prefix}_ci_high": None}


def cycle_summary(
    rows: Sequence[MetricRow],
    scenarios: Sequence[str] | None = None,
    threshold: float = CORRECT_THRESHOLD,
    confidence: float = 0.95,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """One dict per scenario with the keys of :data:`CYCLE_COLUMNS`.

    "last" is the last generation every seed of the scenario finished (``n_generations - 1``). Per seed the
    diversity decline is ``decline_percent(div_gen0, div_last)``; means and CIs are over seeds
    (:func:`bench.analysis.stats.interval`, auto: Student-t below 10 seeds, percentile bootstrap from 10, no bounds for
    one seed). ``seeds`` and ``first_gen_correct_099`` are ``;``-joined per seed, in seed order, with ``never`` where a
    seed's correctness never reached ``threshold`` within the horizon. Values that need a generation the scenario does
    not have are ``None``. ``scenarios`` picks and orders the rows (default: every scenario, in order of appearance); a
    name without rows raises ``ValueError``.
    """
    carried = {r.metric for r in rows}
    curves = collect_curves(rows, [*SUMMARY_METRICS, *([HELD_OUT_METRIC] if HELD_OUT_METRIC in carried else [])])
    names = list(curves) if scenarios is None else list(scenarios)
    missing = [s for s in names if s not in curves]
    if missing:
        raise ValueError(f"no rows for scenario(s) {', '.join(missing)}; known: {', '.join(curves)}")
    table = []
    for name in names:
        c = curves[name]
        n = c.n_generations
        correct, diversity, unique = (c.values[m] for m in SUMMARY_METRICS)
        real_nll = c.values.get(HELD_OUT_METRIC)
        row: dict[str, Any] = {"scenario": name, "n_seeds": len(c.seeds), "n_generations": n}
        if n >= 1:
            row |= _ci(correct[:, 0], "correct_gen0", confidence, seed)
        else:
            row |= _blank("correct_gen0")
        row |= _ci(correct[:, 1], "correct_gen1", confidence, seed) if n >= 2 else _blank("correct_gen1")
        if n >= 1:
            declines = [decline_percent(d[0], d[n - 1]) for d in diversity]
            firsts = [first_generation_at_least(curve[:n], threshold) for curve in correct]
            row |= _ci(correct[:, n - 1], "correct_last", confidence, seed)
            row |= _ci(diversity[:, 0], "diversity_gen0", confidence, seed)
            row |= _ci(diversity[:, n - 1], "diversity_last", confidence, seed)
            row |= _ci(declines, "diversity_decline_pct", confidence, seed)
            row |= _ci(unique[:, 0], "unique_gen0", confidence, seed)
            row |= _ci(unique[:, n - 1], "unique_last", confidence, seed)
            if real_nll is not None:
                row |= _ci(real_nll[:, 0], "real_nll_gen0", confidence, seed)
                row |= _ci(real_nll[:, n - 1], "real_nll_last", confidence, seed)
            else:
                row |= _blank("real_nll_gen0") | _blank("real_nll_last")
            row["first_gen_correct_099"] = ";".join(NEVER if f is None else str(f) for f in firsts)
        else:
            for prefix in ("correct_last", "diversity_gen0", "diversity_last", "diversity_decline_pct"):
                row |= _blank(prefix)
            row |= _blank("unique_gen0") | _blank("unique_last") | _blank("real_nll_gen0") | _blank("real_nll_last")
            row["first_gen_correct_099"] = None
        row["seeds"] = ";".join(str(s) for s in c.seeds)
        table.append({k: row[k] for k in CYCLE_COLUMNS})
    return table


def per_generation_table(
    rows: Sequence[MetricRow],
    metrics: Sequence[str] = PER_GENERATION_METRICS,
    confidence: float = 0.95,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Rows ``scenario, generation, metric, n_seeds, mean, ci_low, ci_high``: mean over seeds with its CI.

    The CI is :func:`bench.analysis.stats.interval` (auto: Student-t below 10 seeds, percentile bootstrap from 10, no
    bounds for one seed), the same as the report's figure bands. Per scenario only the generations every seed finished
    (as in the leaderboard and the figures).
    """
    carried = {r.metric for r in rows}
    metrics = [m for m in metrics if m in carried or m != HELD_OUT_METRIC]
    curves = collect_curves(rows, metrics)
    table = []
    for name, c in curves.items():
        for g in range(c.n_generations):
            for m in metrics:
                estimate = interval(c.values[m][:, g].tolist(), confidence=confidence, method="auto", seed=seed)
                table.append(
                    {
                        "scenario": name,
                        "generation": g,
                        "metric": m,
                        "n_seeds": len(c.seeds),
                        "mean": estimate.mean,
                        "ci_low": estimate.low,
                        "ci_high": estimate.high,
                    }
                )
    return table


def temperature_table(
    summary: Sequence[Mapping[str, Any]],
    temperatures: Mapping[str, float],
    scenarios: Sequence[str] = TEMPERATURE_SCENARIOS,
) -> list[dict[str, Any]]:
    """The rows of :func:`cycle_summary` for ``scenarios`` (those present), each with a ``temperature`` column."""
    by_name = {r["scenario"]: r for r in summary}
    return [
        {
            "scenario": name,
            "temperature": temperatures.get(name),
            **{k: v for k, v in by_name[name].items() if k != "scenario"},
        }
        for name in scenarios
        if name in by_name
    ]


def scenario_temperatures(config: Mapping[str, Any]) -> dict[str, float]:
    """Scenario name -> sampling temperature, from a run's stored config.

    The store keeps ``Suite.resolved_config()``, whose ``scenarios`` are resolved (every setting filled in). Runs
    recorded before that kept the suite's own, unresolved ``scenarios`` and the resolved ones under ``resolved``,
    which is read when present.
    """
    scenarios = config["resolved"] if "resolved" in config else config.get("scenarios", [])
    return {s["name"]: float(s["sampling"]["temperature"]) for s in scenarios}


def select_run(runs: Sequence[RunRow], suite: str = SUITE) -> RunRow | None:
    """The latest run (by start time, as the store orders them) of ``suite``; ``None`` if there is none."""
    matching = [r for r in runs if r.suite == suite]
    return matching[-1] if matching else None


# ----------------------------------------------------------------------------------------------------------
# Writing


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        if not math.isfinite(value):
            return ""
        return round(value, DIGITS)
    return value


def write_csv(path: Path, table: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> Path:
    """Write ``table`` (a list of dicts) as CSV with a header; floats rounded to :data:`DIGITS` decimals."""
    fields = list(columns) if columns is not None else list(dict.fromkeys(k for r in table for k in r))
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        for r in table:
            writer.writerow({k: _cell(r.get(k)) for k in fields})
    return path


def _figures(rows: Sequence[MetricRow], out: Path, config: Mapping[str, Any]) -> list[Path]:
    """The cycles' figures in ``out``; the temperature ablation's beside them with a ``temperature_`` prefix."""
    out.mkdir(parents=True, exist_ok=True)
    present = {r.scenario for r in rows}
    written: list[Path] = []
    cycles = [r for r in rows if r.scenario in CYCLE_SCENARIOS]
    if cycles:
        # force: the folder also holds the ablation's renamed figures, which the report did not write.
        written += write_report(cycles, out, f"{SUITE}: the four cycles", dict(config), force=True, formats=("png",))
    ablation = [r for r in rows if r.scenario in TEMPERATURE_SCENARIOS]
    if len(present & set(TEMPERATURE_SCENARIOS)) > 1:
        # write_report names its files itself: render into a scratch folder, keep only the PNGs, renamed.
        with tempfile.TemporaryDirectory() as tmp:
            ablation_title = f"{SUITE}: temperature ablation"
            for path in write_report(ablation, Path(tmp), ablation_title, dict(config), formats=("png",)):
                if path.suffix == ".png":
                    written.append(Path(shutil.copyfile(path, out / f"temperature_{path.name}")))
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", required=True, type=Path, help="results directory holding bench.duckdb")
    parser.add_argument("--out", required=True, type=Path, help="where the CSVs (and figures/) go")
    parser.add_argument("--suite", default=SUITE, help=f"suite name (default {SUITE})")
    args = parser.parse_args(argv)

    store = Store(args.results)
    try:
        run = select_run(store.runs(), args.suite)
    except StoreError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if run is None:
        print(f"error: {args.results}: no run of suite {args.suite!r}; run it first", file=sys.stderr)
        return 2
    more_run = select_run(store.runs(), MORE_SUITE)
    fresh_run = select_run(store.runs(), FRESH_SUITE)
    for used in (run, more_run, fresh_run):
        if used is not None and (problem := publication_problem(used)):
            print(f"error: {problem}", file=sys.stderr)
            return 2
    rows = store.metric_rows(run.run_id)
    if not rows:
        print(f"error: run {run.run_id} has no finished generation yet", file=sys.stderr)
        return 2
    config = run.settings()
    if more_run is not None:  # its scenarios beside the main run's (the repeated baseline is the main run's)
        present = {r.scenario for r in rows}
        rows = [*rows, *(r for r in store.metric_rows(more_run.run_id) if r.scenario not in present)]
        more_config = more_run.settings()
        config = {**config, "scenarios": [*config.get("scenarios", []), *more_config.get("scenarios", [])]}

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    summary = cycle_summary(rows)
    # The study's cycles first, then the ablation, then anything else in order of appearance.
    order = {name: i for i, name in enumerate(dict.fromkeys((*CYCLE_SCENARIOS, *TEMPERATURE_SCENARIOS)))}
    ordered = sorted(summary, key=lambda r: order.get(r["scenario"], len(order)))
    board = build_leaderboard(rows, baseline=run.baseline or None, contrast=primary_contrast(run.config))

    written = [
        write_csv(out / "cycles.csv", ordered, CYCLE_COLUMNS),
        write_csv(out / "per_generation.csv", per_generation_table(rows)),
        write_csv(
            out / "temperature.csv",
            temperature_table(summary, scenario_temperatures(config)),
            ("scenario", "temperature", *CYCLE_COLUMNS[1:]),
        ),
    ]
    leaderboard = out / "leaderboard.csv"
    leaderboard.write_text(format_leaderboard(board, "csv"), encoding="utf-8")
    written.append(leaderboard)
    written += _figures(rows, out / "figures", config)
    if fresh_run is not None:  # optional: the fresh-data policy comparison
        fresh_rows = [*rows, *store.metric_rows(fresh_run.run_id)]
        present = [name for name in FRESH_SCENARIOS if any(r.scenario == name for r in fresh_rows)]
        written.append(write_csv(out / "fresh_policy.csv", cycle_summary(fresh_rows, present), CYCLE_COLUMNS))
        if "expanding" in present and len(present) > 1:
            # The study's own comparison: expanding with fresh data against expanding without, paired by seed (the
            # runs share their seeds and generation 0); Holm over the fresh-data rows only.
            fresh_board = build_leaderboard([r for r in fresh_rows if r.scenario in present], baseline="expanding")
            fresh_leaderboard = out / "fresh_leaderboard.csv"
            fresh_leaderboard.write_text(format_leaderboard(fresh_board, "csv"), encoding="utf-8")
            written.append(fresh_leaderboard)

    print(
        f"run {run.run_id} ({run.status}); generations per scenario: "
        + ", ".join(f"{r['scenario']}={r['n_generations']}" for r in ordered)
    )
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
