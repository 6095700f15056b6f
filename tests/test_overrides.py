"""``--set FIELD=VALUE``: paths, YAML values, validation like the file, and the run id."""

from __future__ import annotations

import pytest
from conftest import MICRO, write_suite

from bench.suite.config import SuiteError, load_suite
from bench.suite.overrides import OverrideError, apply_overrides, parse_assignment, parse_path


def test_parse_path() -> None:
    assert parse_path("training.max_iters") == ["training", "max_iters"]
    assert parse_path("scenarios[replace].sampling.temperature") == [
        "scenarios",
        "[replace]",
        "sampling",
        "temperature",
    ]
    assert parse_path("scenarios[1].mitigations[0].name") == ["scenarios", 1, "mitigations", 0, "name"]
    assert parse_path("scenarios[fixed_real_0.5].regime.fraction") == [
        "scenarios",
        "[fixed_real_0.5]",
        "regime",
        "fraction",
    ]
    for bad in (".a", "a..b", "a.", "[0]", "a[0]b"):
        with pytest.raises(OverrideError, match="--set"):
            parse_path(bad)


def test_values_are_yaml_scalars_and_flow_collections() -> None:
    assert parse_assignment("training.max_iters=100")[2] == 100
    assert parse_assignment("seeds=[0, 1]")[2] == [0, 1]
    assert parse_assignment("sampling.temperature=0.5")[2] == 0.5
    assert parse_assignment("model={kind: empirical}")[2] == {"kind": "empirical"}
    assert parse_assignment("sampling.n=null")[2] is None
    assert parse_assignment("description=a=b")[2] == "a=b"  # only the first '=' separates
    # The safe loader: a Python tag is refused, never constructed.
    with pytest.raises(OverrideError, match="not valid YAML"):
        parse_assignment("seeds=!!python/object/apply:os.system ['true']")
    with pytest.raises(OverrideError, match="expected FIELD=VALUE"):
        parse_assignment("training.max_iters")


def test_apply_creates_sections_selects_by_name_and_leaves_the_input_alone() -> None:
    data = {"suite": "x", "seeds": [0], "scenarios": [{"name": "a"}, {"name": "b", "sampling": {"n": 3}}]}
    out = apply_overrides(
        data, ["training.max_iters=7", "scenarios[b].sampling.n=5", "scenarios[0].regime={kind: replace}"]
    )
    assert out["training"] == {"max_iters": 7}
    assert out["scenarios"][1]["sampling"] == {"n": 5}
    assert out["scenarios"][0]["regime"] == {"kind": "replace"}
    assert "training" not in data and data["scenarios"][1]["sampling"] == {"n": 3}  # a copy was changed
    assert apply_overrides(data, ["seeds=[1]", "seeds=[2]"])["seeds"] == [2]  # later ones win
    with pytest.raises(OverrideError, match="no item named 'c' \\(names: a, b\\)"):
        apply_overrides(data, ["scenarios[c].sampling.n=1"])
    with pytest.raises(OverrideError, match="out of range"):
        apply_overrides(data, ["scenarios[5].sampling.n=1"])
    with pytest.raises(OverrideError, match="is a key, but the field there is list"):
        apply_overrides(data, ["seeds.first=1"])


def test_overrides_are_validated_like_the_file_and_change_the_run_id(tmp_path) -> None:
    path = write_suite(tmp_path / "micro.yaml", MICRO)
    plain = load_suite(path)
    changed = load_suite(path, ["training.max_iters=100", "seeds=[0]"])
    assert changed.training.max_iters == 100 and changed.seeds == [0]
    assert changed.run_id() != plain.run_id()
    # The fingerprint is over the resolved settings: an override equal to the file's value is the same run.
    assert load_suite(path, ["training.max_iters=16"]).run_id() == plain.run_id()
    assert load_suite(path, ["scenarios[filtered].sampling.temperature=1.0"]).run_id() != plain.run_id()
    with pytest.raises(SuiteError, match=r"training\.max_iter: unknown key"):
        load_suite(path, ["training.max_iter=100"])
    with pytest.raises(SuiteError, match=r"training\.max_iters: .*integer.*'abc'"):
        load_suite(path, ["training.max_iters=abc"])
    with pytest.raises(SuiteError, match="seeds must be distinct"):
        load_suite(path, ["seeds=[0, 0]"])
