"""Report: PNG figures and one static HTML page from synthetic metric rows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench.leaderboard import MetricRow, build_leaderboard, collect_curves
from bench.report import plot_metric, write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FIGURES = ("verdicts.png", "diversity.png", "unique_ratio.png", "correct.png")


def synthetic_rows(generations: int = 4) -> list[MetricRow]:
    """2 scenarios x 2 seeds: diversity declines (faster for "replace"), correctness rises."""
    rows = []
    for scenario, rate in (("replace", 0.2), ("accumulate", 0.05)):
        for seed in (0, 1):
            for g in range(generations):
                diversity = 0.6 - rate * g + 0.01 * seed
                correct = min(1.0, 0.7 + 0.05 * g)
                invalid = 0.1 * (1 - g / generations)
                values = {
                    "diversity_levenshtein": (diversity, True),
                    "correct": (correct, True),
                    "incorrect": (1 - correct - invalid, False),
                    "invalid": (invalid, False),
                    "unique_ratio": (diversity + 0.2, True),
                    "unique_count": (1000 * diversity, True),
                }
                for metric, (value, higher) in values.items():
                    rows.append(MetricRow("run", "demo", scenario, seed, g, metric, value, higher))
    return rows


def test_write_report_files(tmp_path: Path) -> None:
    out = tmp_path / "nested" / "report"  # created on demand
    config = {"suite": "demo", "note": "<script>alert(1)</script>", "seeds": [0, 1]}
    written = write_report(synthetic_rows(), out, "demo <suite>", config)
    assert [p.name for p in written] == [*FIGURES, "index.html"]
    for name in FIGURES:
        data = (out / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 5000

    page = (out / "index.html").read_text(encoding="utf-8")
    assert re.findall(r'<img src="([^"]+)"', page) == list(FIGURES)  # relative paths beside the page
    assert "<title>collapse bench report: demo &lt;suite&gt;</title>" in page
    assert "<script>" not in page and "&lt;script&gt;" in page  # everything escaped
    assert "&quot;seeds&quot;: [" in page  # pretty-printed JSON config in <pre>
    assert "<table>" in page and "<td>accumulate</td>" in page and "<td>baseline</td>" in page


def test_figures_deterministic(tmp_path: Path) -> None:
    # One figure rendered twice is enough to catch timestamps or unseeded randomness in the pipeline.
    curves = collect_curves(synthetic_rows(), ["diversity_levenshtein"])
    a = plot_metric(curves, "diversity_levenshtein", tmp_path / "a.png", "diversity")
    b = plot_metric(curves, "diversity_levenshtein", tmp_path / "b.png", "diversity")
    assert a.read_bytes() == b.read_bytes()


def test_write_report_uses_given_board_and_skips_missing_metrics(tmp_path: Path) -> None:
    rows = [r for r in synthetic_rows() if r.metric in ("diversity_levenshtein", "correct")]
    board = build_leaderboard(rows, metrics=("diversity_levenshtein", "correct"))
    written = write_report(rows, tmp_path, "demo", {}, board=board)
    # No incorrect/invalid/unique_ratio rows: no verdict or unique_ratio figure, and none is linked.
    assert [p.name for p in written] == ["diversity.png", "correct.png", "index.html"]
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "verdicts.png" not in page and "unique_ratio.png" not in page


def test_write_report_interrupted_seed(tmp_path: Path) -> None:
    rows = [
        r
        for r in synthetic_rows(5)
        if r.metric in ("diversity_levenshtein", "correct")
        and not (r.scenario == "replace" and r.seed == 1 and r.generation == 4)
    ]
    written = write_report(rows, tmp_path, "demo", None)
    assert [p.name for p in written] == ["diversity.png", "correct.png", "index.html"]
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "<td>replace</td><td>2</td><td>4</td>" in page  # 2 seeds, 4 common generations
    assert "(no resolved config recorded)" in page


def test_write_report_no_rows(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no metric rows"):
        write_report([], tmp_path, "demo", None)
