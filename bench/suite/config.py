"""The suite schema: what a YAML suite file may say, validated completely before any work starts.

A suite holds shared settings (task, data, model, training, sampling) and a list of scenarios. A scenario picks a
data regime (how generation g+1's training set is made from generation g's), optional mitigations, and may override
the model, training and sampling settings; the override is merged field by field and the merged result validated
again. Regimes, mitigations and learners come from their registries (plugins included), so the schema grows with
them and no list here has to be kept in step.
"""

from __future__ import annotations

import difflib
import hashlib
import inspect
import json
import os
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from bench.learners import LEARNERS
from bench.learners.transformer.learner import TransformerConfig
from bench.mitigations import MITIGATIONS
from bench.regimes import REGIMES
from bench.schema import Strict, tagged_union
from bench.settings import MetricsConfig, SamplingConfig, TrainingConfig
from bench.suite.reader import SuiteFileError, load_suite_data

# Bump when a change to the schema or to the loop changes what a setting means: the run id covers it, so old
# results are never resumed under new meanings.
# 4: validation policies and each item's side; text continue mode prompts with R and forces the length; suite
# metrics models.
SCHEMA_VERSION = 4

# Seeds are stored as DuckDB BIGINT and hashed into 63-bit derived seeds: 0 <= seed < 2^63.
MAX_SEED = 2**63 - 1


def _safe_name(name: str) -> str:
    """A suite or scenario name becomes a folder name: one path component that stays inside its parent."""
    if name.startswith("."):
        raise ValueError(f"{name!r} may not start with '.': names become folder names ('.', '..' and hidden names)")
    return name


# Letters, digits, ``_ . -`` (no separators, no control characters, nothing a shell or a file system reads
# specially), and not starting with ``.``, so neither ``.`` nor ``..`` nor a hidden name.
SafeName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.\-]+$", min_length=1, max_length=80), AfterValidator(_safe_name)]

Regime = tagged_union(REGIMES, "kind")
Mitigation = tagged_union(MITIGATIONS, "name")
Learner = tagged_union(LEARNERS, "kind")


class TaskConfig(Strict):
    name: str = "logic"
    """Registered task name (``logic``)."""
    params: dict[str, Any] = Field(default_factory=dict)
    """Task parameters, e.g. ``{min_depth: 1, max_depth: 5}``; checked by the task itself."""


class DataConfig(Strict):
    size: int = Field(10_000, ge=10, le=10_000_000)
    """N: real samples generated for generation 0, and the size of each later generation's data set."""
    validation_fraction: float = Field(0.1, gt=0.0, lt=0.5)
    """Share of each generation's data set held out for validation and early stopping (``training.validation``
    ``items`` or ``strings``), or the size of the real validation set V* as a share of N (``real``)."""
    fresh: Literal["independent", "disjoint"] = "independent"
    """Fresh real data F_g: ``independent`` (default) draws new samples from the task's generator, as the study and
    Gerstgrasser et al. mean by fresh data; ``disjoint`` excludes every string of generation 0's data, which skews
    fresh data long, since the short common samples are all in R already (docs/replication.md measures it)."""
    test_size: int | None = Field(None, ge=1, le=1_000_000)
    """|T*|: the fixed held-out real test set drawn once per seed (own seed, independent of R) on which ``real_nll``
    is measured every generation; default min(1,000, N/10)."""

    def resolved_test_size(self) -> int:
        return self.test_size if self.test_size is not None else max(1, min(1000, self.size // 10))


class PrimaryContrast(Strict):
    """The one comparison a suite pre-registers: ``scenario`` against the baseline on ``metric``'s final value."""

    scenario: str
    """A scenario of the suite, other than the baseline."""
    metric: str
    """A registered metric (``bench.metrics``)."""


class Scenario(Strict):
    name: SafeName
    """Unique name; letters, digits, ``_ . -``, not starting with ``.`` (it names the scenario's folder)."""
    description: str = ""
    """What this scenario tests."""
    regime: Regime
    """How generation g+1's data set is made (see ``kind``)."""
    mitigations: list[Mitigation] = Field(default_factory=list)  # type: ignore[valid-type]
    """Applied in order to each generation's samples before they enter the next data set."""
    model: dict[str, Any] | None = None
    """Fields overriding the suite's ``model`` (validated after merging; a different ``kind`` replaces it)."""
    training: dict[str, Any] | None = None
    """Fields overriding the suite's ``training`` (validated after merging; ``precision`` is suite-wide)."""
    sampling: dict[str, Any] | None = None
    """Fields overriding the suite's ``sampling`` (validated after merging)."""


class Suite(Strict):
    suite: SafeName
    """Suite name (letters, digits, ``_ . -``, not starting with ``.``; it starts the run id, a folder name)."""
    description: str = ""
    """What the suite measures."""
    seeds: list[Annotated[int, Field(ge=0, le=MAX_SEED)]] = Field(min_length=1, max_length=1000)
    """Seeds: each scenario runs once per seed; confidence intervals are over seeds."""
    generations: int = Field(ge=1, le=1000)
    """Generations per cell, counting generation 0 (trained on real data)."""
    baseline: str | None = None
    """Scenario the leaderboard compares against; default ``replace`` if present, else the first."""
    primary: PrimaryContrast | None = None
    """The pre-registered primary contrast: reported first and uncorrected; every other row is Holm-corrected."""
    checkpoints: Literal["all", "last", "none"] = "all"
    """Which generations keep a ``save_pretrained`` checkpoint (``last``: only the newest of each cell)."""
    task: TaskConfig = TaskConfig()
    """The verifiable task."""
    data: DataConfig = DataConfig()
    """Real data and data-set size."""
    model: Learner = TransformerConfig()  # type: ignore[valid-type]
    """The learner (``kind``, default ``transformer``) and its settings."""
    training: TrainingConfig = TrainingConfig()
    """Optimisation settings."""
    sampling: SamplingConfig = SamplingConfig()
    """Sampling settings."""
    metrics: MetricsConfig = MetricsConfig()
    """Fixed models that score a text suite (MAUVE's featurizer, the reference scorer) and MAUVE's size."""
    scenarios: list[Scenario] = Field(min_length=1)
    """The loop scenarios to compare."""
    # The suite file's folder (absolute), set by ``load_suite``: the run id spells input paths from it, so it does
    # not depend on the working directory (``bench.suite.paths``). None for a suite parsed from data.
    _folder: str | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _default_learner(cls, data: Any) -> Any:
        return _with_default_learner(data)

    @model_validator(mode="after")
    def _cross_checks(self) -> Suite:
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must be distinct, got {self.seeds}")
        names = [s.name for s in self.scenarios]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"scenario names must be unique; repeated: {', '.join(duplicated)}")
        if self.baseline is not None and self.baseline not in names:
            raise ValueError(f"baseline {self.baseline!r} is not a scenario; scenarios: {', '.join(names)}")
        if self.primary is not None:
            self._check_primary(names)
        task = _build_task(self.task)
        self._check_corpus_sizes(task)
        for index, scenario in enumerate(self.scenarios):
            merged = self._merged(scenario)
            try:
                resolved = ResolvedScenario.model_validate(merged)
            except ValidationError as error:
                raise ValueError(
                    f"scenarios[{index}] ({scenario.name}): "
                    f"{_describe_validation_error(error, merged, ResolvedScenario)}"
                ) from None
            block = resolved.training.block_size
            longest = task.max_tokens() + 2  # with <bos> and <eos>
            if block < longest:
                raise ValueError(
                    f"scenarios[{index}] ({scenario.name}): training.block_size ({block}) is shorter than the "
                    f"longest possible sample ({longest} tokens with <bos>/<eos>)"
                )
            if getattr(resolved.model, "fit_on", None) == "all" and resolved.training.validation == "real":
                raise ValueError(
                    f"scenarios[{index}] ({scenario.name}): model.fit_on 'all' with training.validation 'real' would "
                    "add the real validation set V* to T_g; use fit_on 'train' (all of T_g under validation 'real')"
                )
            try:
                resolved.model.check(task, block)
                _check_text_settings(task, resolved)
                longest_sample = _longest_sample(resolved, task)
                for mitigation in resolved.mitigations:
                    mitigation.check(task, longest_sample)
            except ValueError as error:
                raise ValueError(f"scenarios[{index}] ({scenario.name}): {error}") from None
            # One Accelerator serves a process, and its precision is fixed when it starts: a per-cell precision
            # would be silently ignored, so it is refused here.
            if resolved.training.precision != self.training.precision:
                raise ValueError(
                    f"scenarios[{index}] ({scenario.name}): training.precision cannot be overridden per scenario "
                    f"(suite: {self.training.precision!r}, scenario: {resolved.training.precision!r}); "
                    "run a separate suite for another precision"
                )
        return self

    def _check_primary(self, names: list[str]) -> None:
        from bench.metrics import METRICS

        contrast = self.primary
        assert contrast is not None
        if contrast.scenario not in names:
            raise ValueError(
                f"primary.scenario {contrast.scenario!r} is not a scenario{_near(contrast.scenario, names)}"
            )
        if contrast.scenario == self.baseline_name():
            raise ValueError(f"primary.scenario {contrast.scenario!r} is the baseline; name the scenario compared")
        if contrast.metric not in METRICS.names():
            raise ValueError(
                f"primary.metric {contrast.metric!r} is not a known metric{_near(contrast.metric, METRICS.names())}"
            )

    def _check_corpus_sizes(self, task: Any) -> None:
        check_sizes = getattr(task, "check_sizes", None)
        if check_sizes is None:
            return
        validation = 0
        if self.training.validation == "real":
            validation = max(1, round(self.data.validation_fraction * self.data.size))
        try:
            check_sizes(train=self.data.size, test=self.data.resolved_test_size(), validation=validation)
        except ValueError as error:
            raise ValueError(f"task: {error}") from None

    def _merged(self, scenario: Scenario) -> dict[str, Any]:
        """The scenario's settings as a plain document: shared sections with its overrides merged in."""
        merged = {}
        for section in ("model", "training", "sampling"):
            shared = getattr(self, section).model_dump()
            override = getattr(scenario, section) or {}
            if section == "model" and override.get("kind", shared["kind"]) != shared["kind"]:
                shared = {}  # another learner: its settings replace the suite's instead of merging into them
            shared.update(override)
            merged[section] = shared
        return {
            "name": scenario.name,
            "regime": scenario.regime.model_dump(),
            "mitigations": [m.model_dump() for m in scenario.mitigations],
            "task": self.task.model_dump(),
            "data": self.data.model_dump(),
            "metrics": self.metrics.model_dump(),
            **merged,
        }

    def resolve(self, scenario: Scenario) -> ResolvedScenario:
        """The scenario with the suite's shared settings merged under its overrides, validated again."""
        return ResolvedScenario.model_validate(self._merged(scenario))

    def resolved_scenarios(self) -> list[ResolvedScenario]:
        return [self.resolve(s) for s in self.scenarios]

    def baseline_name(self) -> str:
        names = [s.name for s in self.scenarios]
        if self.baseline:
            return self.baseline
        return "replace" if "replace" in names else names[0]

    def fingerprint(self, config: dict[str, Any] | None = None) -> str:
        """A hash of everything that determines the numbers, defaults included, and the schema version.

        Same fingerprint, same run (resumable). Defaults are part of it, so a changed code default starts a new run
        instead of resuming an old one under new settings. Descriptions do not change numbers and are left out.
        ``config``: this suite's :meth:`resolved_config`, when the caller has it already (resolving costs time).
        """
        payload = self.resolved_config() if config is None else config
        blob = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()

    def resolved_config(self, scenarios: list[ResolvedScenario] | None = None) -> dict[str, Any]:
        """Every setting of every cell, defaults filled in, as plain JSON data (what the store records).
        ``scenarios``: this suite's :meth:`resolved_scenarios`, when the caller has them already.

        Input paths are spelt from the suite file's folder, not the working directory, so the run id is the same
        wherever ``bench`` runs; the inputs' contents enter as SHA-256 digests under the same names.
        """
        from bench.suite.input_digests import digests, input_paths
        from bench.suite.paths import path_from_folder, paths_from_folder

        payload = self.model_dump(mode="json", exclude={"description", "scenarios"})
        payload["schema_version"] = SCHEMA_VERSION
        resolved = self.resolved_scenarios() if scenarios is None else scenarios
        payload["scenarios"] = [s.model_dump(mode="json") for s in resolved]
        # The contents of the corpus and model folder, not only their paths: a changed input is a new run.
        inputs = digests(path for s in resolved for path in input_paths(s.task.params, s.model))
        if self._folder is not None:
            folder = self._folder
            paths_from_folder(payload, folder)
            inputs = {path_from_folder(path, folder): digest for path, digest in inputs.items()}
        if inputs:
            payload["inputs"] = inputs
        return payload

    def run_id(self, config: dict[str, Any] | None = None) -> str:
        """The suite's name and fingerprint (``config`` as in :meth:`fingerprint`)."""
        return f"{self.suite}-{self.fingerprint(config)[:12]}"


class ResolvedScenario(Strict):
    """A scenario with every setting filled in: what one cell (scenario × seed) runs."""

    name: str
    """Scenario name."""
    regime: Regime
    """The data regime."""
    mitigations: list[Mitigation]  # type: ignore[valid-type]
    """Mitigations in order."""
    task: TaskConfig
    """Task settings."""
    data: DataConfig
    """Data settings."""
    model: Learner  # type: ignore[valid-type]
    """Learner settings."""
    training: TrainingConfig
    """Training settings."""
    sampling: SamplingConfig
    """Sampling settings."""
    metrics: MetricsConfig = MetricsConfig()
    """Scoring models of a text suite."""


def _check_text_settings(task: Any, scenario: ResolvedScenario) -> None:
    """Settings that only free text supports, and what text cannot do (it has no verdicts)."""
    from bench.tasks import has_verdicts

    text = not has_verdicts(task)
    sampling = scenario.sampling
    if text:
        for mitigation in scenario.mitigations:
            if mitigation.name == "verifier_filter":
                raise ValueError(f"mitigations: verifier_filter needs verdicts, and task {task.name!r} has none")
        if scenario.model.kind != "transformer":
            raise ValueError(f"task {task.name!r} needs model.kind 'transformer' (got {scenario.model.kind!r})")
        from bench.text.protocol import check_text_protocol

        check_text_protocol(task, scenario)
        return
    if sampling.mode == "continue":
        raise ValueError(f"sampling.mode 'continue' needs a text task (task {task.name!r} has no prompts)")
    if scenario.metrics != MetricsConfig():
        raise ValueError(f"metrics: applies to the text task only (task {task.name!r})")
    for name, default in (("num_beams", 1), ("repetition_penalty", 1.0), ("do_sample", True)):
        if getattr(sampling, name) != default:
            raise ValueError(f"sampling.{name} applies to the text task only (task {task.name!r})")


def _build_task(config: TaskConfig) -> Any:
    """The task with its parameters, each checked against the task's signature first (name and strict type)."""
    from bench.registry import UnknownNameError
    from bench.tasks import TASKS

    try:
        cls = TASKS.get(config.name)
    except UnknownNameError as error:
        raise ValueError(f"task.name: {error}") from None
    try:
        signature = inspect.signature(cls, eval_str=True)  # our own annotations, never suite text
    except (NameError, TypeError, ValueError):
        signature = None
    if signature is not None and not any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values()):
        keyword = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        accepted = {n: p for n, p in signature.parameters.items() if p.kind in keyword}
        for key, value in config.params.items():
            if key not in accepted:
                raise ValueError(f"task.params.{key}: unknown parameter of task {config.name!r}{_near(key, accepted)}")
            annotation = accepted[key].annotation
            if annotation is inspect.Parameter.empty:
                continue
            try:
                TypeAdapter(annotation, config=ConfigDict(strict=True, allow_inf_nan=False)).validate_python(value)
            except ValidationError as error:
                message = error.errors()[0]["msg"]
                raise ValueError(f"task.params.{key}: {message} (got {value!r})") from None
    try:
        return cls(**config.params)
    except (TypeError, ValueError) as error:
        raise ValueError(f"task.params: {error}") from None
    except Exception as error:  # noqa: BLE001 - whatever building the task raises is a validation error, one line
        reason = str(error).strip().partition("\n")[0] or type(error).__name__
        raise ValueError(f"task.params: {type(error).__name__}: {reason}") from None


def _longest_sample(resolved: ResolvedScenario, task: Any) -> int | None:
    """The most tokens a generated sample can have (``None`` for a learner that only resamples its data).

    Checked against the training block: a sample cut at ``max_new_tokens`` is trained on by the next generation
    with ``<bos>`` and ``<eos>`` around it, so it must fit one block (the block fits the model's context).
    """
    if not isinstance(resolved.model, TransformerConfig):
        return None
    longest = resolved.sampling.max_new_tokens or task.max_tokens() + 1  # the learner's default: bound + <eos>
    block = resolved.training.block_size
    if longest + 2 > block:
        raise ValueError(
            f"sampling.max_new_tokens ({longest}) does not fit the context: a sample with <bos> and <eos> needs "
            f"{longest + 2} positions, training.block_size is {block}"
        )
    return longest


def _near(name: str, choices: typing.Iterable[str]) -> str:
    near = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.6)
    return f" (did you mean {' or '.join(near)}?)" if near else ""


def _model_class_at(root: type[BaseModel], path: list[Any], data: Any) -> type[BaseModel] | None:
    """The config class whose keys live at ``path`` of ``data`` (tagged unions resolved by their tag)."""
    cls: type[BaseModel] | None = root
    node = data
    for part in path:
        if isinstance(part, int):
            node = node[part] if isinstance(node, list) and part < len(node) else None
            continue
        if cls is None or part not in cls.model_fields:
            return None
        node = node.get(part) if isinstance(node, dict) else None
        cls = _model_in(cls.model_fields[part].annotation, node)
    return cls


def _model_in(annotation: Any, node: Any) -> type[BaseModel] | None:
    """The BaseModel class an annotation holds for ``node``: through Optional, list and tagged unions."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    candidates = [c for c in (_model_in(a, node) for a in typing.get_args(annotation)) if c is not None]
    if typing.get_origin(annotation) not in (typing.Union, types.UnionType, Annotated, list) and not candidates:
        return None
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    for candidate in candidates:  # a discriminated union: the member whose Literal tag matches the data
        for name, field in candidate.model_fields.items():
            if typing.get_origin(field.annotation) is Literal and isinstance(node, dict):
                if node.get(name) in typing.get_args(field.annotation):
                    return candidate
    return None


def _with_default_learner(data: Any) -> Any:
    """``model`` without ``kind`` means the default learner, ``transformer``."""
    if isinstance(data, dict) and isinstance(data.get("model"), dict) and "kind" not in data["model"]:
        return {**data, "model": {"kind": "transformer", **data["model"]}}
    return data


def first_difference(old: Any, new: Any, path: str = "") -> str | None:
    """The dotted path of the first setting that differs between two JSON documents, or ``None``."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(old.keys() | new.keys()):
            if key not in old or key not in new:
                return f"{path}{key}"
            found = first_difference(old[key], new[key], f"{path}{key}.")
            if found is not None:
                return found
        return None
    if isinstance(old, list) and isinstance(new, list):
        if len(old) != len(new):
            return path.rstrip(".") or "(top level)"
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            label = a.get("name", index) if isinstance(a, dict) else index
            found = first_difference(a, b, f"{path.rstrip('.')}[{label}].")
            if found is not None:
                return found
        return None
    return None if old == new else (path.rstrip(".") or "(top level)")


class SuiteError(ValueError):
    """A suite file that cannot be used; the message names the file and the field."""


def _format_location(location: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for item in location:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "(top level)"


def _describe_validation_error(error: ValidationError, data: Any, root: type[BaseModel] | None = None) -> str:
    first = error.errors()[0]
    location = list(first["loc"])
    # Discriminated unions add the tag ("replace", "dedup") to the location; it is noise to a reader.
    readable: list[Any] = []
    node = data
    for position, item in enumerate(location):
        if isinstance(node, dict) and item in node:
            readable.append(item)
            node = node[item]
        elif isinstance(node, list) and isinstance(item, int) and item < len(node):
            readable.append(item)
            node = node[item]
        elif isinstance(node, dict | list):
            # The missing or unknown key itself (the last item); a union's tag before it is noise.
            last = position == len(location) - 1
            if isinstance(item, str) and last and first["type"] in ("extra_forbidden", "missing"):
                readable.append(item)
            continue
        else:
            break
    where = _format_location(tuple(readable))
    message = first["msg"]
    if first["type"] == "extra_forbidden":
        message = "unknown key"
        cls = _model_class_at(root or Suite, readable[:-1], data) if readable else None
        if cls is not None and readable and isinstance(readable[-1], str):
            message += _near(readable[-1], cls.model_fields)
    elif first["type"] == "value_error":
        message = message.removeprefix("Value error, ")
    value = first.get("input")
    shown = (
        "" if first["type"] in ("missing", "extra_forbidden") or isinstance(value, dict | list) else f" (got {value!r})"
    )
    more = f" (and {error.error_count() - 1} more problem(s))" if error.error_count() > 1 else ""
    prefix = "" if where == "(top level)" and first["type"] == "value_error" else f"{where}: "
    return f"{prefix}{message}{shown}{more}"


def parse_suite(data: Any, source: str = "<suite>") -> Suite:
    """Validate already-loaded YAML data; raise SuiteError naming the field."""
    if data is None:
        raise SuiteError(f"{source}: the file is empty")
    if not isinstance(data, dict):
        raise SuiteError(f"{source}: a suite must be a mapping of keys, got {type(data).__name__}")
    try:
        return Suite.model_validate(data)
    except ValidationError as error:
        raise SuiteError(f"{source}: {_describe_validation_error(error, data)}") from None


def load_suite(path: str | Path, overrides: Sequence[str] = ()) -> Suite:
    """Read and validate a suite file (a bounded read and the safe loader of ``bench.suite.reader``), with
    ``--set FIELD=VALUE`` overrides applied first (``bench/suite/overrides.py``)."""
    try:
        data = load_suite_data(path)
    except SuiteFileError as error:
        raise SuiteError(str(error)) from None
    from bench.suite.paths import resolve_suite_paths

    data = resolve_suite_paths(data, path)  # relative file paths are the suite file's folder's
    if overrides:
        from bench.suite.overrides import OverrideError, apply_overrides

        try:
            data = apply_overrides(data, overrides)
        except OverrideError as error:
            raise SuiteError(f"{path}: {error}") from None
        suite = parse_suite(data, f"{path} (with --set {' '.join(overrides)})")
    else:
        suite = parse_suite(data, str(path))
    suite._folder = os.path.abspath(os.path.dirname(str(path)) or ".")
    return suite


def suite_hash(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
