"""Suite validation: every shipped suite validates; bad suites fail with one message naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bench.suite.config import SuiteError, load_suite, parse_suite

# The text suites name a model folder and a corpus that the user builds or downloads first (docs/text.md);
# tests/test_text.py validates them against a model it builds.
NEEDS_LOCAL_FILES = {"text_smoke.yaml", "text_cpu.yaml", "shumailov.yaml", "shumailov_smollm2.yaml"}
SUITES = sorted(p for p in (Path(__file__).parent.parent / "suites").glob("*.yaml") if p.name not in NEEDS_LOCAL_FILES)

MINIMAL = {
    "suite": "t",
    "seeds": [0],
    "generations": 2,
    "model": {"preset": "tiny"},
    "scenarios": [{"name": "replace", "regime": {"kind": "replace"}}],
}


def with_changes(**changes):
    data = yaml.safe_load(yaml.safe_dump(MINIMAL))
    data.update(changes)
    return data


@pytest.mark.parametrize("path", SUITES, ids=[p.name for p in SUITES])
def test_every_shipped_suite_validates(path):
    suite = load_suite(path)
    assert suite.scenarios and suite.seeds
    for scenario in suite.resolved_scenarios():
        assert scenario.training.block_size >= 8


def test_required_suites_are_shipped():
    names = {p.name for p in SUITES}
    assert {"smoke.yaml", "fresh_mix.yaml", "paper.yaml", "mitigations.yaml", "nightly.yaml"} <= names


def test_minimal_suite_gets_documented_defaults():
    suite = parse_suite(MINIMAL)
    assert suite.sampling.temperature == 0.8 and suite.training.max_iters == 5000
    assert suite.baseline_name() == "replace"


def test_scenario_override_merges_field_by_field():
    data = with_changes(
        scenarios=[{"name": "hot", "regime": {"kind": "replace"}, "sampling": {"temperature": 1.2}}],
        sampling={"temperature": 0.7, "top_k": 5},
    )
    (resolved,) = parse_suite(data).resolved_scenarios()
    assert resolved.sampling.temperature == 1.2 and resolved.sampling.top_k == 5


def test_run_id_ignores_descriptions_but_not_numbers():
    a = parse_suite(MINIMAL)
    b = parse_suite(with_changes(description="words"))
    c = parse_suite(with_changes(generations=3))
    assert a.run_id() == b.run_id() != c.run_id()


BAD_SUITES = [
    ("unknown top-level key", with_changes(generation=3), "generation: unknown key"),
    (
        "value out of bounds",
        with_changes(generations=0),
        "generations: Input should be greater than or equal to 1",
    ),
    ("wrong type", with_changes(seeds="zero"), "seeds"),
    ("missing field", {k: v for k, v in MINIMAL.items() if k != "scenarios"}, "scenarios: Field required"),
    (
        "temperature not positive",
        with_changes(sampling={"temperature": 0}),
        "sampling.temperature: Input should be greater than or equal to 0.001",
    ),
    (
        "fraction above one",
        with_changes(scenarios=[{"name": "b", "regime": {"kind": "fixed_real", "fraction": 1.5}}]),
        "scenarios[0].regime.fraction",
    ),
    (
        "unknown regime",
        with_changes(scenarios=[{"name": "b", "regime": {"kind": "recycle"}}]),
        "scenarios[0].regime",
    ),
    (
        "unknown mitigation",
        with_changes(scenarios=[{"name": "b", "regime": {"kind": "replace"}, "mitigations": [{"name": "dedupe"}]}]),
        "scenarios[0].mitigations[0]",
    ),
    (
        "duplicate scenario names",
        with_changes(scenarios=[{"name": "a", "regime": {"kind": "replace"}}] * 2),
        "scenario names must be unique",
    ),
    ("baseline not a scenario", with_changes(baseline="nope"), "baseline 'nope' is not a scenario"),
    (
        "bad scenario override",
        with_changes(scenarios=[{"name": "a", "regime": {"kind": "replace"}, "training": {"max_iterz": 3}}]),
        "scenarios[0] (a): training.max_iterz: unknown key",
    ),
    ("unknown task", with_changes(task={"name": "chess"}), "unknown task 'chess'"),
    ("bad task parameter", with_changes(task={"name": "logic", "params": {"max_depth": 0}}), "task.params:"),
    ("repeated seeds", with_changes(seeds=[1, 1]), "seeds must be distinct"),
    (
        "cross-field: warmup longer than training",
        with_changes(training={"max_iters": 10, "warmup_iters": 50}),
        "warmup_iters (50) must not exceed max_iters (10)",
    ),
    (
        "block too short for the longest sample",
        with_changes(training={"block_size": 16}),
        "training.block_size (16) is shorter than the longest possible sample",
    ),
]


@pytest.mark.parametrize("data,expected", [(d, e) for _, d, e in BAD_SUITES], ids=[n for n, _, _ in BAD_SUITES])
def test_bad_suites_fail_with_a_message_naming_the_field(data, expected):
    with pytest.raises(SuiteError) as error:
        parse_suite(data, "s.yaml")
    message = str(error.value)
    assert message.startswith("s.yaml: ")
    assert expected in message
    assert "\n" not in message


@pytest.mark.parametrize(
    "text,expected",
    [
        ("", "the file is empty"),
        ("suite: [unclosed\n", "invalid YAML at line"),
        ("- just\n- a list\n", "a suite must be a mapping"),
        ("!!python/object/apply:os.system ['echo hi']\n", "invalid YAML"),
    ],
)
def test_bad_files_fail_cleanly(tmp_path, text, expected):
    path = tmp_path / "s.yaml"
    path.write_text(text)
    with pytest.raises(SuiteError, match=expected.replace("[", r"\[")):
        load_suite(path)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(SuiteError, match="no such file"):
        load_suite(tmp_path / "absent.yaml")
    with pytest.raises(SuiteError, match="is a directory"):
        load_suite(tmp_path)


def test_run_id_covers_defaults_and_the_schema_version(monkeypatch):
    import bench.suite.config as config

    explicit = parse_suite(with_changes(training={"weight_decay": 0.1}))  # the default, written out
    assert explicit.run_id() == parse_suite(MINIMAL).run_id()
    resolved = parse_suite(MINIMAL).resolved_config()
    assert resolved["schema_version"] == config.SCHEMA_VERSION
    assert resolved["scenarios"][0]["training"]["weight_decay"] == 0.1  # defaults are part of what is hashed
    before = parse_suite(MINIMAL).run_id()
    monkeypatch.setattr(config, "SCHEMA_VERSION", config.SCHEMA_VERSION + 1)
    assert parse_suite(MINIMAL).run_id() != before


def test_precision_cannot_differ_per_scenario():
    data = with_changes(scenarios=[{"name": "a", "regime": {"kind": "replace"}, "training": {"precision": "bf16"}}])
    with pytest.raises(SuiteError, match="training.precision cannot be overridden per scenario"):
        parse_suite(data)
    same = with_changes(scenarios=[{"name": "a", "regime": {"kind": "replace"}, "training": {"precision": "auto"}}])
    assert parse_suite(same).resolved_scenarios()[0].training.precision == "auto"


def test_learner_kind_defaults_to_transformer_and_a_scenario_may_switch_it():
    (resolved,) = parse_suite(MINIMAL).resolved_scenarios()
    assert resolved.model.kind == "transformer"
    data = with_changes(
        model={"preset": "tiny"},
        scenarios=[{"name": "oracle", "regime": {"kind": "replace"}, "model": {"kind": "empirical"}}],
    )
    (oracle,) = parse_suite(data).resolved_scenarios()
    assert oracle.model.kind == "empirical"  # the suite's transformer settings are replaced, not merged


def test_first_difference_names_the_field():
    from bench.suite.config import first_difference

    old = {"data": {"size": 10}, "scenarios": [{"name": "a", "training": {"lr": 1}}]}
    assert first_difference(old, old) is None
    assert first_difference(old, {**old, "data": {"size": 11}}) == "data.size"
    new = {**old, "scenarios": [{"name": "a", "training": {"lr": 2}}]}
    assert first_difference(old, new) == "scenarios[a].training.lr"
