"""The lm-eval style results JSON from metric rows (no run needed; the end-to-end file is in test_export.py)."""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from conftest import synthetic_rows
from pydantic import ValidationError

from bench.analysis.leaderboard import build_leaderboard
from bench.analysis.results_json import ResultsDocument, ScenarioResults, build_results, dumps, loads, save
from bench.records import MetricRow, RunRow

RUN = RunRow(
    run_id="demo-0123456789ab",
    suite="demo",
    status="finished",
    baseline="replace",
    config=json.dumps({"suite": "demo", "seeds": [0, 1], "generations": 4, "scenarios": [{"name": "replace"}]}),
    packages=json.dumps({"torch": "2.13.0", "python": "3.11.7"}),
    git_commit="abc123",
    device="cpu",
    started_at=datetime(2026, 1, 1, 10, 0),
    finished_at=datetime(2026, 1, 1, 11, 0),
)


def test_summary_per_scenario() -> None:
    rows = synthetic_rows()
    board = build_leaderboard(rows, baseline="replace", metrics=("diversity_levenshtein", "correct"))
    document = json.loads(dumps(build_results(RUN, rows, board)))
    replace = document["results"]["replace"]
    # diversity = 0.6 - 0.2 * 3 + 0.01 * seed at the last generation: mean 0.005, stderr = std(ddof=1) / sqrt(2).
    assert replace["diversity_levenshtein,final"] == pytest.approx(0.005)
    assert replace["diversity_levenshtein_stderr,final"] == pytest.approx(np.std([0.0, 0.01], ddof=1) / math.sqrt(2))
    low, high = replace["diversity_levenshtein_ci,final"]
    assert low < 0.005 < high
    assert "unique_count,final" in replace  # every metric gets its final mean, not only the leaderboard's
    assert replace["n_seeds"] == 2 and type(replace["n_seeds"]) is int  # a count stays an int in the file
    accumulate = document["results"]["accumulate"]
    assert accumulate["diversity_levenshtein_diff_vs_replace,final"] == pytest.approx(0.45)
    assert accumulate["diversity_levenshtein_diff_test,final"] == "sign-flip"
    assert accumulate["diversity_levenshtein_diff_primary,final"] is False
    assert document["higher_is_better"]["replace"]["incorrect"] is False
    assert document["versions"] == {"torch": "2.13.0", "python": "3.11.7"}
    assert document["git_hash"] == "abc123" and document["date"] == "2026-01-01T11:00:00"
    assert document["configs"]["replace"] == {"name": "replace"} and document["configs"]["accumulate"] is None
    assert document["leaderboard_order"] == [r.scenario for r in board]


def test_the_file_has_exactly_the_documented_keys() -> None:
    """The keys of the file are the model's fields (plus ``format``/``format_version``), each described."""
    rows = synthetic_rows()
    document = json.loads(dumps(build_results(RUN, rows, build_leaderboard(rows, baseline="replace"))))
    assert list(document) == sorted(ResultsDocument.model_fields)
    assert document["format"] == "collapse-bench-results" and document["format_version"] == 1
    schema = ResultsDocument.model_json_schema()
    assert all(field.get("description") for field in schema["properties"].values())
    assert all(field.get("description") for field in schema["$defs"]["ScenarioResults"]["properties"].values())


def test_the_file_reads_back_as_the_same_document() -> None:
    rows = synthetic_rows()
    document = build_results(RUN, rows, build_leaderboard(rows, baseline="replace"))
    assert dumps(loads(dumps(document))) == dumps(document)
    with pytest.raises(ValueError, match="format_version"):
        loads(dumps(document).replace('"format_version": 1', '"format_version": 2'))


def test_a_document_with_an_unknown_key_or_a_wrong_type_is_refused() -> None:
    rows = synthetic_rows()
    document = build_results(RUN, rows, [])
    with pytest.raises(ValidationError, match="extra"):
        ResultsDocument.model_validate({**document.model_dump(), "extra": 1})
    with pytest.raises(ValidationError, match="status"):
        document.model_copy(update={"status": 3}).model_validate(document.model_dump() | {"status": 3})
    with pytest.raises(ValidationError, match="odd"):
        ScenarioResults(alias="a", n_seeds=1, n_generations=1, odd={"not": "a summary value"})


def test_non_finite_values_never_reach_the_file(tmp_path: Path) -> None:
    rows = [*synthetic_rows(), MetricRow("run", "demo", "replace", 0, 3, "real_nll", math.inf, False)]
    document = build_results(RUN, rows, [])
    assert "real_nll,final" not in document.results["replace"].model_extra
    replace = document.results["replace"]
    odd = ScenarioResults(**{**replace.model_dump(), "odd": math.nan})
    document = document.model_copy(update={"results": {**document.results, "replace": odd}})
    path = save(tmp_path / "results.json", document)
    text = path.read_text()
    assert "NaN" not in text and json.loads(text)["results"]["replace"]["odd"] is None
    assert text == dumps(document)  # the same document gives the same bytes
