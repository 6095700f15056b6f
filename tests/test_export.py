"""A tiny finished run (empirical learner, seconds): its results JSON, ``bench export`` read back with the libraries'
own readers, and ``bench report`` end to end (samples, drops, ``--out`` safety)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bench.cli.main import main
from bench.run.sequential import run_suite
from bench.store.database import Store
from bench.suite.config import parse_suite

pytestmark = pytest.mark.slow

SUITE = {
    "suite": "export_test",
    "seeds": [0, 1],
    "generations": 3,
    "checkpoints": "none",
    "task": {"name": "logic", "params": {"min_depth": 1, "max_depth": 4}},
    "data": {"size": 60},
    "model": {"kind": "empirical"},
    "sampling": {"temperature": 1.0},
    "scenarios": [
        {"name": "replace", "regime": {"kind": "replace"}},
        {"name": "dedup", "regime": {"kind": "replace"}, "mitigations": [{"name": "dedup"}]},
    ],
}


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("export")
    suite_file = root / "export_test.yaml"
    suite_file.write_text("# written by the test\n")
    summary = run_suite(parse_suite(SUITE), suite_file, root / "results", show_progress=False)
    assert summary.finished
    return root / "results", summary.run_id


def final_means(results: Path, run_id: str, metric: str) -> dict[str, float]:
    rows = [r for r in Store(results).metric_rows(run_id) if r.metric == metric and r.generation == 2]
    return {s: float(np.mean([r.value for r in rows if r.scenario == s])) for s in ("replace", "dedup")}


def test_results_json_written_when_the_run_finishes(finished: tuple[Path, str]) -> None:
    results, run_id = finished
    path = results / f"results-{run_id}.json"
    document = json.loads(path.read_text())
    assert document["format"] == "collapse-bench-results" and document["run_id"] == run_id
    assert document["status"] == "finished" and document["seeds"] == [0, 1]
    assert set(document["results"]) == {"replace", "dedup"}
    expected = final_means(results, run_id, "diversity_levenshtein")
    for scenario, entry in document["results"].items():
        assert entry["n_seeds"] == 2 and entry["n_generations"] == 3
        assert entry["diversity_levenshtein,final"] == pytest.approx(expected[scenario], rel=1e-12)
        assert entry["diversity_levenshtein_stderr,final"] is not None
        assert len(entry["diversity_levenshtein_ci,final"]) == 2
        assert "diversity_levenshtein,auc" in entry
    assert document["higher_is_better"]["replace"]["diversity_levenshtein"] is True
    assert document["configs"]["dedup"]["mitigations"] == [{"name": "dedup"}]
    assert document["config"]["generations"] == 3 and "scenarios" not in document["config"]
    assert document["versions"]["duckdb"] and "python" in document["versions"]
    assert sorted(document["leaderboard_order"]) == ["dedup", "replace"]
    assert "git_hash" in document and document["date"] == document["finished_at"]


def test_tensorboard_export_reads_back(finished: tuple[Path, str], tmp_path: Path, capsys) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    results, run_id = finished
    out = tmp_path / "tb"
    assert main(["export", "--results", str(results), "--format", "tensorboard", str(out)]) == 0
    rows = Store(results).metric_rows(run_id)
    for scenario in ("replace", "dedup"):
        for seed in (0, 1):
            events = EventAccumulator(str(out / run_id / scenario / f"seed-{seed}"))
            events.Reload()
            tags = set(events.Tags()["scalars"])
            mine = [r for r in rows if r.scenario == scenario and r.seed == seed]
            assert tags == {r.metric for r in mine}
            points = events.Scalars("diversity_levenshtein")
            assert [p.step for p in points] == [0, 1, 2]
            expected = [
                r.value for r in sorted(mine, key=lambda r: r.generation) if r.metric == "diversity_levenshtein"
            ]
            assert [p.value for p in points] == pytest.approx(expected, rel=1e-6)  # TensorBoard stores float32
    capsys.readouterr()
    # A second export into the same folder would duplicate every point: refused with one line.
    assert main(["export", "--results", str(results), "--format", "tensorboard", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("bench: error:") and "already holds" in err and "\n" not in err


def test_mlflow_export_reads_back(finished: tuple[Path, str], tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    results, run_id = finished
    out = tmp_path / "mlflow"
    for _ in range(2):  # exporting again replaces the first export
        assert main(["export", "--results", str(results), "--format", "mlflow", str(out)]) == 0
    client = MlflowClient(tracking_uri=f"sqlite:///{out / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("export_test")
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 4
    rows = Store(results).metric_rows(run_id)
    for run in runs:
        tags = run.data.tags
        assert tags["bench.run_id"] == run_id
        scenario, seed = tags["bench.scenario"], int(tags["bench.seed"])
        history = sorted(client.get_metric_history(run.info.run_id, "unique_ratio"), key=lambda m: m.step)
        expected = sorted(
            (r.generation, r.value) for r in rows if (r.scenario, r.seed, r.metric) == (scenario, seed, "unique_ratio")
        )
        assert [(m.step, m.value) for m in history] == expected
        assert run.data.params["regime.kind"] == "replace"


def test_report_end_to_end(finished: tuple[Path, str], tmp_path: Path, capsys) -> None:
    results, run_id = finished
    out = tmp_path / "report"
    assert main(["report", "--results", str(results), "--out", str(out)]) == 0
    page = (out / "index.html").read_text(encoding="utf-8")
    assert f"<dd>{run_id}</dd>" in page
    assert 'class="v-correct"' in page  # samples coloured by verdict
    assert (out / "drops.svg").exists() and (out / "composition.pdf").exists()  # dedup drops duplicates
    assert json.loads((out / "results.json").read_text())["run_id"] == run_id
    capsys.readouterr()

    # A foreign file: exit 2, one line, nothing written.
    other = tmp_path / "other"
    other.mkdir()
    (other / "thesis.tex").write_text("months of work")
    secret = tmp_path / "secret"
    secret.write_text("untouched")
    (other / "index.html").symlink_to(secret)
    assert main(["report", "--results", str(results), "--out", str(other)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--force" in err and "index.html" in err
    assert sorted(p.name for p in other.iterdir()) == ["index.html", "thesis.tex"]
    # --force writes beside the foreign file and replaces the link instead of writing through it.
    assert main(["report", "--results", str(results), "--out", str(other), "--force"]) == 0
    assert secret.read_text() == "untouched" and not (other / "index.html").is_symlink()
    assert (other / "thesis.tex").read_text() == "months of work"
