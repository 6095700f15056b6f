"""Ray is the optional extra `parallel`: without it, asking for parallel cells is bad input (one line, exit 2)."""

from __future__ import annotations

import sys

import pytest
from conftest import assert_one_line_failure, bench


@pytest.mark.parametrize(("options", "option"), [(["--workers", "2"], "--workers"), (["--ray", "auto"], "--ray")])
@pytest.mark.parametrize("command", ["run", "validate"])
def test_parallel_options_without_ray_name_the_extra(micro_suite, tmp_path, monkeypatch, options, option, command):
    monkeypatch.setitem(sys.modules, "ray", None)  # what an install without the extra sees: `import ray` fails
    results = ["--results", str(tmp_path / "results")] if command == "run" else []
    result = bench(command, str(micro_suite), *results, *options)
    assert_one_line_failure(result, f"{option} needs the 'parallel' extra", "collapse-bench[parallel]")
    assert not (tmp_path / "results").exists()


def test_the_sequential_path_needs_no_ray(micro_suite, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    assert bench("validate", str(micro_suite)).returncode == 0


def test_every_extra_the_code_checks_is_declared_in_pyproject():
    """bench.extras names each extra's distributions; pyproject.toml must declare the same ones under that extra."""
    import re
    import tomllib

    from conftest import ROOT

    from bench.extras import EXTRAS

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    for extra, modules in EXTRAS.items():
        names = {re.split(r"[<>=!~ \[]", spec, maxsplit=1)[0] for spec in declared[extra]}
        assert set(modules.values()) <= names, (extra, set(modules.values()) - names)
    # the base install names none of them
    base = {
        re.split(r"[<>=!~ \[]", spec, maxsplit=1)[0]
        for spec in tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    }
    assert not base & {d for modules in EXTRAS.values() for d in modules.values()}


def test_a_missing_text_extra_is_one_line_naming_it(monkeypatch):
    from bench import extras

    monkeypatch.setitem(sys.modules, "mauve", None)
    with pytest.raises(
        extras.MissingExtra, match=r"the text task needs the 'text' extra .*mauve-text is not installed"
    ):
        extras.require("text", "the text task", modules=("mauve", "sacrebleu"))
    assert extras.missing("text", modules=("sacrebleu",)) is None
