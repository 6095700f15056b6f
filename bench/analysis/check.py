"""The regression gate behind ``bench check``: compare a leaderboard with a stored baseline.

Everything here is a pure function over leaderboard rows (plain dicts, as ``bench leaderboard
--format json`` prints them), so the gate is testable without a database or a model.

Baseline file (JSON, written by ``bench check --write-baseline PATH``)::

    {
      "format_version": 2,
      "suite": "nightly",
      "tolerances": {"correct": {"absolute": 0.05}, "unique_ratio": {"absolute": 0.05, "relative": 0.1}},
      "rows": [{"scenario": "replace", "n_seeds": 3, "correct_final": 0.91, "correct_auc": 0.88, ...}, ...]
    }

For every scenario of the baseline and every checked metric ``m`` the gate compares the point
estimates ``{m}_final`` and ``{m}_auc`` (the ``_diff`` columns are relative to the run's own
baseline scenario and would double-count a move, so they are not gated). The allowed move in the
bad direction is ``max(absolute, relative * |baseline value|)``; a move of exactly that much
still passes. Checked metrics are ``DEFAULT_TOLERANCES`` merged with the file's ``tolerances``.
A scenario of the baseline that the current run lacks is a failure; a scenario that is new in the
current run is listed and passes. Which way is bad comes from the metric registry
(``bench.metrics``), where each metric declares its direction once; a metric without a direction
(a descriptive statistic) cannot be gated and is refused.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

FORMAT_VERSION = 2  # 2: directions come from the metric registry, not from the file

# Exit codes of `bench check`, the CLI's contract (bad input is the CLI's exit 2, raised here as ValueError).
EXIT_PASS = 0
EXIT_REGRESSION = 1

# The summary values gated per metric: final generation, and area under the per-generation curve.
GATED_KINDS: tuple[str, ...] = ("final", "auc")

# Defaults: a drop of 0.05 (five percentage points of a share, or 0.05 of a normalized distance)
# is larger than the seed-to-seed spread we expect of a 3-seed nightly mean, yet small next to
# the collapse effects the benchmark exists to measure (tens of percent).
DEFAULT_TOLERANCES: dict[str, dict[str, float]] = {
    "diversity_levenshtein": {"absolute": 0.05, "relative": 0.0},
    "correct": {"absolute": 0.05, "relative": 0.0},
    "unique_ratio": {"absolute": 0.05, "relative": 0.0},
}

_TOLERANCE_KEYS = frozenset({"absolute", "relative"})
_TOP_KEYS = frozenset({"format_version", "suite", "tolerances", "rows"})

Status = Literal["ok", "improved", "regressed", "missing"]
# Float slack so that a drop of exactly the tolerance (0.50 -> 0.45 with 0.05) is not failed by rounding.
_EPS = 1e-9


@dataclass(frozen=True)
class Finding:
    """One compared value: a scenario's ``field`` in the baseline and in the current run."""

    scenario: str
    field: str
    baseline: float | None
    current: float | None  # None: the scenario or the value is absent from the current run
    delta: float | None  # current - baseline (signed, not direction-adjusted)
    tolerance: float  # the allowed move in the bad direction for this value
    status: Status
    higher_is_better: bool = True


@dataclass
class CheckReport:
    """What ``compare`` found. ``passed`` is False when anything regressed or went missing."""

    suite: str
    findings: list[Finding] = field(default_factory=list)
    new_scenarios: list[str] = field(default_factory=list)  # in the current run only: reported, pass
    missing_scenarios: list[str] = field(default_factory=list)  # in the baseline only: their values fail
    notes: list[str] = field(default_factory=list)  # e.g. a different number of seeds than the baseline

    @property
    def passed(self) -> bool:
        return not any(f.status in ("regressed", "missing") for f in self.findings)

    def by_status(self, status: Status) -> list[Finding]:
        return [f for f in self.findings if f.status == status]

    @property
    def exit_code(self) -> int:
        return EXIT_PASS if self.passed else EXIT_REGRESSION


# --------------------------------------------------------------------------- baseline files


def make_baseline(
    rows: Iterable[Mapping[str, Any]],
    suite: str,
    tolerances: Mapping[str, Mapping[str, float]] | None = None,
) -> dict[str, Any]:
    """Build a baseline dict (JSON-ready) from leaderboard rows of a run that is known to be good.

    ``tolerances`` overrides the defaults per metric; metrics it does not name keep their default.
    Non-finite numbers become ``null`` (JSON has no NaN) and are then not gated.
    """
    merged = {m: dict(t) for m, t in DEFAULT_TOLERANCES.items()}
    for metric, tol in (tolerances or {}).items():
        merged[metric] = {**merged.get(metric, {"absolute": 0.0, "relative": 0.0}), **tol}
    baseline = {
        "format_version": FORMAT_VERSION,
        "suite": suite,
        "tolerances": merged,
        "rows": [_json_row(row) for row in rows],
    }
    return validate_baseline(baseline)


def dump_baseline(baseline: Mapping[str, Any]) -> str:
    """The baseline as stable, diff-friendly JSON text (sorted keys, one field a line)."""
    return json.dumps(baseline, indent=2, sort_keys=True, allow_nan=False) + "\n"


def write_baseline(path: str | Path, baseline: Mapping[str, Any]) -> None:
    """Validate and write a baseline file, creating its folder."""
    text = dump_baseline(validate_baseline(dict(baseline)))
    from bench.safe_io import write_atomic

    write_atomic(path, text)


def load_baseline(path: str | Path) -> dict[str, Any]:
    """Read and validate a baseline file; every problem is a ``ValueError`` with a clear message."""
    target = Path(path)
    if not target.is_file():
        raise ValueError(
            f"baseline file {str(target)!r} does not exist; create one from a good run with "
            f"`bench check --write-baseline {target}`"
        )
    try:
        text = target.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"baseline file {str(target)!r} cannot be read: {err}") from None
    try:
        # parse_constant rejects NaN/Infinity, which are not JSON and would make comparisons meaningless.
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as err:
        raise ValueError(
            f"baseline file {str(target)!r} is not valid JSON: {err.msg} (line {err.lineno}, column {err.colno})"
        ) from None
    except ValueError as err:
        raise ValueError(f"baseline file {str(target)!r}: {err}") from None
    except RecursionError:
        raise ValueError(f"baseline file {str(target)!r} is nested too deeply to be a baseline") from None
    try:
        return validate_baseline(data)
    except ValueError as err:
        raise ValueError(f"baseline file {str(target)!r}: {err}") from None


def validate_baseline(data: Any) -> dict[str, Any]:
    """Check a baseline's structure and return it with defaults filled in (a new dict)."""
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object at the top, got {type(data).__name__}")
    version = data.get("format_version", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        raise ValueError(
            f"format_version {version!r} is not supported (this bench reads {FORMAT_VERSION}); "
            "write a new baseline with `bench check --write-baseline FILE`"
        )
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise ValueError(f"unknown key(s) {unknown}; allowed: {sorted(_TOP_KEYS)}")
    suite = data.get("suite")
    if not isinstance(suite, str) or not suite:
        raise ValueError("'suite' must be a non-empty string")
    rows = data.get("rows")
    if not isinstance(rows, list):
        raise ValueError("'rows' must be a list of leaderboard rows")
    _check_rows(rows, where="'rows'", finite=True)
    tolerances = {m: dict(t) for m, t in DEFAULT_TOLERANCES.items()}
    raw_tol = data.get("tolerances", {})
    if not isinstance(raw_tol, dict):
        raise ValueError('\'tolerances\' must be an object: metric -> {"absolute": x, "relative": y}')
    for metric, tol in raw_tol.items():
        tolerances[metric] = _check_tolerance(metric, tol)
    return {
        "format_version": FORMAT_VERSION,
        "suite": suite,
        "tolerances": tolerances,
        "rows": [dict(r) for r in rows],
    }


# --------------------------------------------------------------------------- comparison


def gated_direction(metric: str) -> bool:
    """Whether higher is better for a gated metric, from the metric registry; ``ValueError`` if it has none."""
    from bench.metrics import METRICS

    if metric not in METRICS:
        raise ValueError(f"cannot gate {metric!r}: {METRICS.unknown_message(metric)}")
    higher = METRICS.get(metric).higher_is_better
    if higher is None:
        raise ValueError(f"cannot gate {metric!r}: it is a descriptive statistic with no better direction")
    return higher


def compare(
    current_rows: Sequence[Mapping[str, Any]],
    baseline: Mapping[str, Any],
    *,
    suite: str | None = None,
    direction: Callable[[str], bool] = gated_direction,
) -> CheckReport:
    """Compare current leaderboard rows with a baseline (as ``load_baseline`` returns it).

    ``suite``, when given, is the current run's suite name; a mismatch is noted, not failed.
    Raises ``ValueError`` for malformed rows or baseline (the CLI's exit 2).
    """
    base = validate_baseline(dict(baseline))
    _check_rows(current_rows, where="current leaderboard")
    report = CheckReport(suite=base["suite"])
    if suite is not None and suite != base["suite"]:
        report.notes.append(f"baseline is for suite {base['suite']!r}, current results are {suite!r}")
    current = {row["scenario"]: row for row in current_rows}
    base_names = [row["scenario"] for row in base["rows"]]
    report.new_scenarios = [name for name in current if name not in set(base_names)]

    for brow in base["rows"]:
        name = brow["scenario"]
        crow = current.get(name)
        if crow is None:
            report.missing_scenarios.append(name)
        else:
            for key in ("n_seeds", "n_generations"):
                if key in brow and key in crow and brow[key] != crow[key]:
                    report.notes.append(f"{name}: {key} is {crow[key]} now, {brow[key]} in the baseline")
        for metric, tol in base["tolerances"].items():
            higher = direction(metric)
            for kind in GATED_KINDS:
                fname = f"{metric}_{kind}"
                bval = _number(brow.get(fname))
                if bval is None:
                    continue  # nothing to hold the current run to
                cval = None if crow is None else _number(crow.get(fname))
                allowed = max(tol["absolute"], tol["relative"] * abs(bval))
                report.findings.append(_judge(name, fname, bval, cval, allowed, higher))
    return report


def _judge(scenario: str, fname: str, bval: float, cval: float | None, allowed: float, higher: bool) -> Finding:
    """Classify one value: how far it moved in the bad direction, against the allowed move."""
    if cval is None:
        return Finding(scenario, fname, bval, None, None, allowed, "missing", higher)
    delta = cval - bval
    worse_by = -delta if higher else delta
    if worse_by > allowed + _EPS:
        status: Status = "regressed"
    elif -worse_by > allowed + _EPS:
        status = "improved"
    else:
        status = "ok"
    return Finding(scenario, fname, bval, cval, delta, allowed, status, higher)


# --------------------------------------------------------------------------- presentation


def format_check(report: CheckReport) -> str:
    """Human-readable summary: the verdict first, then everything that moved beyond its tolerance."""
    counts = {s: len(report.by_status(s)) for s in ("regressed", "missing", "improved", "ok")}
    verdict = "PASSED" if report.passed else "FAILED"
    lines = [
        f"bench check ({report.suite}): {verdict} - "
        + ", ".join(f"{n} {s}" for s, n in counts.items())
        + (f", {len(report.new_scenarios)} new scenario(s)" if report.new_scenarios else "")
    ]
    gone = set(report.missing_scenarios)
    for status in ("regressed", "missing", "improved"):
        for f in report.by_status(status):
            if f.scenario in gone:
                continue  # listed once below rather than field by field
            if f.delta is None:
                lines.append(f"  {status.upper():<9} {f.scenario} {f.field}: baseline {f.baseline:.4f}, absent now")
                continue
            direction = "higher is better" if f.higher_is_better else "lower is better"
            lines.append(
                f"  {status.upper():<9} {f.scenario} {f.field}: {f.baseline:.4f} -> {f.current:.4f} "
                f"({f.delta:+.4f}; tolerance {f.tolerance:.4f}, {direction})"
            )
    if report.missing_scenarios:
        lines.append(
            "  MISSING   scenario(s) in the baseline but not in the results: " + ", ".join(report.missing_scenarios)
        )
    if report.new_scenarios:
        lines.append("  new scenario(s), not in the baseline (not gated): " + ", ".join(report.new_scenarios))
    lines.extend(f"  note: {n}" for n in report.notes)
    return "\n".join(lines)


# --------------------------------------------------------------------------- helpers


def _check_rows(rows: Iterable[Any], where: str, finite: bool = False) -> None:
    """Rows with distinct scenario names and numeric gated fields; ``finite`` (a baseline file) also refuses
    values such as ``1e400``, which JSON parses to infinity and which would turn the gate off for that value."""
    seen: set[str] = set()
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise ValueError(f"{where}[{i}] must be an object, got {type(row).__name__}")
        name = row.get("scenario")
        if not isinstance(name, str) or not name:
            raise ValueError(f"{where}[{i}] has no 'scenario' name")
        if name in seen:
            raise ValueError(f"{where}: scenario {name!r} appears twice")
        seen.add(name)
        for key, value in row.items():
            if (key.endswith(("_final", "_auc")) or key in ("n_seeds", "n_generations")) and not (
                value is None or _is_real(value)
            ):
                raise ValueError(f"{where}: scenario {name!r} field {key!r} must be a number, got {value!r}")
            if finite and _is_real(value) and not _finite(value):
                raise ValueError(f"{where}: scenario {name!r} field {key!r} must be finite, got {value!r}")


def _check_tolerance(metric: str, tol: Any) -> dict[str, float]:
    if not isinstance(tol, dict):
        raise ValueError(f'tolerance of {metric!r} must be an object like {{"absolute": 0.05}}')
    unknown = sorted(set(tol) - _TOLERANCE_KEYS)
    if unknown:
        raise ValueError(f"tolerance of {metric!r} has unknown key(s) {unknown}; allowed: absolute, relative")
    if not tol:
        raise ValueError(f"tolerance of {metric!r} is empty; give 'absolute' and/or 'relative'")
    out = {"absolute": 0.0, "relative": 0.0}
    for key, value in tol.items():
        number = _number(value)
        if number is None or number < 0:
            raise ValueError(f"tolerance {metric}.{key} must be a finite number >= 0, got {value!r}")
        out[key] = float(number)
    return out


def _number(value: Any) -> float | None:
    """A finite float, or None for absent/None/NaN/non-numbers (booleans are not numbers here)."""
    if not _is_real(value) or not _finite(value):
        return None
    return float(value)


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer beyond any float
        return False


def _is_real(value: Any) -> bool:
    """int, float and numpy scalars count; bool does not (True is not a score)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _json_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row with plain JSON values: numpy scalars unwrapped, NaN/inf as None."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if hasattr(value, "item") and not isinstance(value, str | bytes):
            value = value.item()  # numpy / duckdb scalar -> Python
        if isinstance(value, float) and not math.isfinite(value):
            value = None
        if not (value is None or isinstance(value, str | int | float | bool)):
            raise ValueError(f"row {row.get('scenario')!r} field {key!r}: {value!r} is not a JSON value")
        out[str(key)] = value
    return out


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in a baseline file (use null)")
