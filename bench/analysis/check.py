"""The regression gate behind ``bench check``: compare a leaderboard with a stored baseline.

Everything here is a pure function over leaderboard rows (plain dicts, as ``bench leaderboard
--format json`` prints them), so the gate is testable without a database or a model.

Baseline file (JSON, written by ``bench check --write-baseline PATH``; the Pydantic model :class:`Baseline`
declares and documents it, and a bad file is one ``ValueError`` line naming the file and the field)::

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
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, ValidationError, field_validator, model_validator

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


def _row_problem(row: Mapping[str, Any], finite: bool) -> str | None:
    """Why a leaderboard row cannot be gated: a gated field or a count that is not a number; with ``finite`` (a
    baseline file) also a number such as ``1e400``, which JSON parses to infinity and which would turn the gate off
    for that value."""
    name = row.get("scenario")
    for key, value in row.items():
        if (key.endswith(("_final", "_auc")) or key in ("n_seeds", "n_generations")) and not (
            value is None or _is_real(value)
        ):
            return f"scenario {name!r} field {key!r} must be a number, got {_shown(value)}"
        if finite and _is_real(value) and not _finite(value):
            return f"scenario {name!r} field {key!r} must be finite, got {_shown(value)}"
    return None


RowValue = str | bool | int | float | None


def _row_value(value: Any) -> RowValue:
    """A row's value as JSON has it: a string, a finite number, a boolean or null."""
    if value is None or isinstance(value, str | bool):
        return value
    if not _is_real(value):
        raise ValueError(f"must be a string, a number, a boolean or null, got {_shown(value)}")
    if not _finite(value):
        raise ValueError(f"must be finite, got {_shown(value)}")
    return value


class Tolerance(BaseModel):
    """How far one metric may move in its bad direction: ``max(absolute, relative * |baseline value|)``."""

    model_config = ConfigDict(
        extra="forbid", strict=True, allow_inf_nan=False, frozen=True, use_attribute_docstrings=True
    )

    absolute: float = Field(default=0.0, ge=0.0)
    """The allowed move in the metric's own units."""
    relative: float = Field(default=0.0, ge=0.0)
    """The allowed move as a share of the baseline value's magnitude."""

    @model_validator(mode="before")
    @classmethod
    def _not_empty(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data:
            raise ValueError("is empty; give 'absolute' and/or 'relative'")
        return data


class BaselineRow(BaseModel):
    """One scenario's leaderboard row (``bench leaderboard --format json``): ``scenario`` plus every other field of
    the row as it was (``{metric}_final``, ``{metric}_auc``, their intervals, ``n_seeds``, ...). Only ``{metric}_final``
    and ``{metric}_auc`` of the tolerated metrics are gated."""

    model_config = ConfigDict(extra="allow", strict=True, frozen=True, use_attribute_docstrings=True)
    __pydantic_extra__: dict[str, Annotated[RowValue, PlainValidator(_row_value)]]

    scenario: str = Field(min_length=1)
    """The scenario's name."""

    @model_validator(mode="after")
    def _gated_fields_are_numbers(self) -> BaselineRow:
        problem = _row_problem(self.as_dict(), finite=True)
        if problem:
            raise ValueError(problem)
        return self

    def as_dict(self) -> dict[str, RowValue]:
        """The row as a dict, ``scenario`` first."""
        return {"scenario": self.scenario, **(self.model_extra or {})}

    def number(self, key: str) -> float | None:
        """A gated value: a finite float, or ``None`` when the row has none."""
        return _number((self.model_extra or {}).get(key))


class Baseline(BaseModel):
    """A baseline file: the leaderboard rows of a run known to be good, and how far each gated metric may move."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, use_attribute_docstrings=True)

    format_version: int = FORMAT_VERSION
    """The version of this layout (2: directions come from the metric registry, not from the file)."""
    suite: str = Field(min_length=1)
    """The suite whose runs the baseline gates."""
    tolerances: dict[str, Tolerance] = Field(default_factory=dict, validate_default=True)
    """Per gated metric, its tolerance; ``DEFAULT_TOLERANCES`` fill in the metrics the file does not name."""
    rows: list[BaselineRow]
    """One leaderboard row per scenario."""

    @field_validator("format_version", mode="before")
    @classmethod
    def _supported(cls, version: Any) -> Any:
        if version != FORMAT_VERSION:
            raise ValueError(
                f"{version!r} is not supported (this bench reads {FORMAT_VERSION}); "
                "write a new baseline with `bench check --write-baseline FILE`"
            )
        return version

    @field_validator("tolerances", mode="after")
    @classmethod
    def _with_defaults(cls, tolerances: dict[str, Tolerance]) -> dict[str, Tolerance]:
        return {**{m: Tolerance(**t) for m, t in DEFAULT_TOLERANCES.items()}, **tolerances}

    @field_validator("rows", mode="after")
    @classmethod
    def _distinct_scenarios(cls, rows: list[BaselineRow]) -> list[BaselineRow]:
        names = [row.scenario for row in rows]
        twice = next((name for i, name in enumerate(names) if name in names[:i]), None)
        if twice is not None:
            raise ValueError(f"scenario {twice!r} appears twice")
        return rows


def _where(location: tuple[int | str, ...]) -> str:
    """``("rows", 0, "correct_final")`` -> ``rows[0].correct_final``."""
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


# Pydantic's error types as the one line a user reads.
_MUST_BE = {
    "model_type": "an object",
    "dict_type": "an object",
    "list_type": "a list",
    "string_type": "a string",
    "float_type": "a number",
    "int_type": "an integer",
    "bool_type": "true or false",
}


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _first_problem(error: ValidationError) -> str:
    """The first problem pydantic found, as one line naming the field."""
    first = error.errors()[0]
    location, kind = tuple(first["loc"]), first["type"]
    where = _where(location)
    if kind == "missing":
        return f"{where}: required key missing"
    if kind == "extra_forbidden":
        allowed = Tolerance.model_fields if location[0] == "tolerances" else Baseline.model_fields
        return f"unknown key {where!r}; allowed: {', '.join(sorted(allowed))}"
    if kind in _MUST_BE:
        message = f"must be {_MUST_BE[kind]}, got {_shown(first['input'])}"
    elif kind == "value_error":
        message = first["msg"].removeprefix("Value error, ")
    else:
        message = f"{first['msg'][0].lower()}{first['msg'][1:]}, got {_shown(first['input'])}"
    return f"{where}: {message}" if where else message


def parse_baseline(data: Any) -> Baseline:
    """A baseline from parsed JSON, with defaults filled in; ``ValueError`` (one line naming the field) if it is not
    one."""
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object at the top, got {type(data).__name__}")
    try:
        return Baseline.model_validate(data)
    except ValidationError as error:
        raise ValueError(_first_problem(error)) from None


def make_baseline(
    rows: Iterable[Mapping[str, Any]],
    suite: str,
    tolerances: Mapping[str, Mapping[str, float]] | None = None,
) -> Baseline:
    """A baseline from leaderboard rows of a run that is known to be good.

    ``tolerances`` overrides the defaults per metric; metrics it does not name keep their default.
    Non-finite numbers become ``null`` (JSON has no NaN) and are then not gated.
    """
    merged = {m: dict(t) for m, t in DEFAULT_TOLERANCES.items()}
    for metric, tol in (tolerances or {}).items():
        merged[metric] = {**merged.get(metric, {"absolute": 0.0, "relative": 0.0}), **tol}
    return parse_baseline(
        {"format_version": FORMAT_VERSION, "suite": suite, "tolerances": merged, "rows": [_json_row(r) for r in rows]}
    )


def dump_baseline(baseline: Baseline) -> str:
    """The baseline as stable, diff-friendly JSON text (sorted keys, one field a line)."""
    return json.dumps(baseline.model_dump(), indent=2, sort_keys=True, allow_nan=False) + "\n"


def write_baseline(path: str | Path, baseline: Baseline) -> None:
    """Write a baseline file, creating its folder."""
    from bench.safe_io import write_atomic

    write_atomic(path, dump_baseline(baseline))


def load_baseline(path: str | Path) -> Baseline:
    """Read and validate a baseline file; every problem is a ``ValueError`` of one line naming the file."""
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
        return parse_baseline(data)
    except ValueError as err:
        raise ValueError(f"baseline file {str(target)!r}: {err}") from None


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
    baseline: Baseline,
    *,
    suite: str | None = None,
    direction: Callable[[str], bool] = gated_direction,
) -> CheckReport:
    """Compare current leaderboard rows (``BoardRow.to_dict()``) with a baseline.

    ``suite``, when given, is the current run's suite name; a mismatch is noted, not failed.
    Raises ``ValueError`` for malformed rows or a metric that cannot be gated (the CLI's exit 2).
    """
    _check_current_rows(current_rows)
    report = CheckReport(suite=baseline.suite)
    if suite is not None and suite != baseline.suite:
        report.notes.append(f"baseline is for suite {baseline.suite!r}, current results are {suite!r}")
    current = {row["scenario"]: row for row in current_rows}
    base_names = {row.scenario for row in baseline.rows}
    report.new_scenarios = [name for name in current if name not in base_names]

    for brow in baseline.rows:
        name = brow.scenario
        crow = current.get(name)
        recorded = brow.as_dict()
        if crow is None:
            report.missing_scenarios.append(name)
        else:
            for key in ("n_seeds", "n_generations"):
                if key in recorded and key in crow and recorded[key] != crow[key]:
                    report.notes.append(f"{name}: {key} is {crow[key]} now, {recorded[key]} in the baseline")
        for metric, tol in baseline.tolerances.items():
            higher = direction(metric)
            for kind in GATED_KINDS:
                fname = f"{metric}_{kind}"
                bval = brow.number(fname)
                if bval is None:
                    continue  # nothing to hold the current run to
                cval = None if crow is None else _number(crow.get(fname))
                allowed = max(tol.absolute, tol.relative * abs(bval))
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


def _check_current_rows(rows: Sequence[Any]) -> None:
    """The current leaderboard's rows: objects with distinct scenario names and numeric gated fields."""
    where = "current leaderboard"
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
        problem = _row_problem(row, finite=False)
        if problem:
            raise ValueError(f"{where}: {problem}")


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
