"""Report: PNG figures and one static HTML page from synthetic metric rows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import bench.report
from bench.leaderboard import BoardRow, build_leaderboard, collect_curves
from bench.records import MetricRow
from bench.report import plot_metric, write_report
from bench.stats import Interval, interval

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
    # 2 seeds: Student-t intervals, named in the caption; the paired difference carries its Holm p-value.
    assert "Student-t" in page and "Holm" in page
    assert re.search(r"<td>[+-]\d\.\d{3} \[[^]]+\] p=[\d.e-]+</td>", page)


def test_figures_deterministic(tmp_path: Path) -> None:
    # One figure rendered twice is enough to catch timestamps or unseeded randomness in the pipeline.
    curves = collect_curves(synthetic_rows(), ["diversity_levenshtein"])
    a = plot_metric(curves, "diversity_levenshtein", tmp_path / "a.png", "diversity")
    b = plot_metric(curves, "diversity_levenshtein", tmp_path / "b.png", "diversity")
    assert a.read_bytes() == b.read_bytes()


def test_write_report_uses_given_board_and_skips_missing_metrics(tmp_path: Path) -> None:
    rows = [r for r in synthetic_rows() if r.metric in ("diversity_levenshtein", "correct")]
    # A bootstrap board: the page shows it (its caption) instead of building the default Student-t one.
    board = build_leaderboard(rows, metrics=("diversity_levenshtein", "correct"), ci="bootstrap")
    assert all(isinstance(r, BoardRow) for r in board)
    written = write_report(rows, tmp_path, "demo", {}, board=board)
    # No incorrect/invalid/unique_ratio rows: no verdict or unique_ratio figure, and none is linked.
    assert [p.name for p in written] == ["diversity.png", "correct.png", "index.html"]
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "verdicts.png" not in page and "unique_ratio.png" not in page
    assert "percentile bootstrap" in page and "Student-t" not in page


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


def test_plot_metric_bands_come_from_bench_stats(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The band of each scenario and generation is bench.stats.interval over that generation's per-seed values.
    calls: list[tuple[list[float], float, int]] = []

    def spy(values: list[float], confidence: float = 0.95, method: str = "auto", seed: int = 0) -> Interval:
        calls.append((list(values), confidence, seed))
        return interval(values, confidence=confidence, method=method, seed=seed)

    monkeypatch.setattr(bench.report, "interval", spy)
    curves = collect_curves(synthetic_rows(3), ["diversity_levenshtein"])
    plot_metric(curves, "diversity_levenshtein", tmp_path / "d.png", "diversity", confidence=0.9, seed=4)
    assert len(calls) == 2 * 3  # 2 scenarios x 3 generations
    assert all(c == 0.9 and s == 4 for _, c, s in calls)
    # replace, generation 1: 0.6 - 0.2 + 0.01 * seed for seeds 0 and 1.
    assert calls[1][0] == pytest.approx([0.4, 0.41])


def test_write_report_one_seed(tmp_path: Path) -> None:
    # One seed has no interval: the bands collapse onto the lines and the table shows "[–]".
    rows = [r for r in synthetic_rows() if r.seed == 0]
    written = write_report(rows, tmp_path, "demo", None)
    assert [p.name for p in written] == [*FIGURES, "index.html"]
    for name in FIGURES:
        assert (tmp_path / name).read_bytes().startswith(PNG_MAGIC)
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "<td>replace</td><td>1</td><td>4</td>" in page
    assert " [–]</td>" in page and "none for one seed" in page


def test_write_report_no_rows(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no metric rows"):
        write_report([], tmp_path, "demo", None)
