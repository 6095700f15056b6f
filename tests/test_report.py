"""Report: PNG figures and one static HTML page from synthetic metric rows."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import REPORT_RUN, composition_rows, report_inputs, synthetic_rows
from matplotlib.figure import Figure

import bench.report.figures
import bench.report.page
from bench.analysis.bounded import metric_interval
from bench.analysis.leaderboard import BoardRow, build_leaderboard, collect_curves
from bench.records import MetricRow
from bench.report.figures import fitted_limits, metric_figure, plot_metric
from bench.report.hooks import FigureContext
from bench.report.inputs import pick_samples
from bench.report.page import write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
STEMS = ("verdicts", "diversity", "unique_ratio", "correct")
FIGURES = tuple(f"{s}.png" for s in STEMS)


def files(*stems: str) -> list[str]:
    """The files of figures ``stems`` in write order: PNG, SVG, PDF each."""
    return [f"{s}.{ext}" for s in stems for ext in ("png", "svg", "pdf")]


def test_write_report_files(tmp_path: Path) -> None:
    out = tmp_path / "nested" / "report"  # created on demand
    config = {"suite": "demo", "note": "<script>alert(1)</script>", "seeds": [0, 1]}
    written = write_report(synthetic_rows(), out, "demo <suite>", config)
    assert [p.name for p in written] == [*files(*STEMS), "index.html"]
    for name in FIGURES:
        data = (out / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 5000
        assert (out / name).with_suffix(".pdf").read_bytes().startswith(b"%PDF-")
        assert b"<svg" in (out / name).with_suffix(".svg").read_bytes()[:2000]

    page = (out / "index.html").read_text(encoding="utf-8")
    assert re.findall(r'<img src="([^"]+)"', page) == list(FIGURES)  # relative paths beside the page
    assert "<title>collapse bench report: demo &lt;suite&gt;</title>" in page
    assert "<script>" not in page and "&lt;script&gt;" in page  # everything escaped
    assert "&#34;seeds&#34;: [" in page  # pretty-printed JSON config in <pre>
    assert '<table class="board">' in page and '<span class="m">accumulate</span>' in page
    assert '<span class="m">baseline</span>' in page
    # 2 seeds: Student-t intervals, named in the caption; the paired difference carries its Holm p-value.
    assert "Student-t" in page and "Holm" in page
    assert re.search(r'<span class="m">[+-]\d\.\d{3}</span><span class="ci">\[[^]]+\] p=[\d.e-]+</span>', page)


def test_figures_deterministic(tmp_path: Path) -> None:
    # One figure rendered twice is enough to catch timestamps or unseeded randomness in the pipeline.
    curves = collect_curves(synthetic_rows(), ["diversity_levenshtein"])
    a = plot_metric(curves, "diversity_levenshtein", tmp_path / "a.png", "diversity")
    b = plot_metric(curves, "diversity_levenshtein", tmp_path / "b.png", "diversity")
    for ext in (".png", ".svg", ".pdf"):  # SVG ids and PDF dates are fixed too
        assert a.with_suffix(ext).read_bytes() == b.with_suffix(ext).read_bytes()


def test_write_report_uses_given_board_and_skips_missing_metrics(tmp_path: Path) -> None:
    rows = [r for r in synthetic_rows() if r.metric in ("diversity_levenshtein", "correct")]
    # A bootstrap board: the page shows it (its caption) instead of building the default Student-t one.
    board = build_leaderboard(rows, metrics=("diversity_levenshtein", "correct"), ci="bootstrap")
    assert all(isinstance(r, BoardRow) for r in board)
    written = write_report(rows, tmp_path, "demo", {}, board=board, formats=("png",))
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
    written = write_report(rows, tmp_path, "demo", None, formats=("png",))
    assert [p.name for p in written] == ["diversity.png", "correct.png", "index.html"]
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    # 2 seeds, 4 common generations
    assert (
        '<td><span class="m">replace</span></td><td><span class="m">2</span></td><td><span class="m">4</span>' in page
    )
    assert "(no resolved config recorded)" in page


def test_plot_metric_bands_come_from_bench_stats(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # From 3 seeds, the band of each scenario and generation is the metric's interval (bench.analysis.bounded over
    # bench.analysis.stats) of that generation's per-seed values; below 3 seeds there is no band.
    calls: list[tuple[str, list[float], float, int]] = []

    def spy(metric: str, values: list[float], confidence: float = 0.95, method: str = "auto", seed: int = 0):
        calls.append((metric, list(values), confidence, seed))
        return metric_interval(metric, values, confidence=confidence, method=method, seed=seed)

    monkeypatch.setattr(bench.report.figures, "metric_interval", spy)
    two_seeds = synthetic_rows(3)
    plot_metric(collect_curves(two_seeds, ["diversity_levenshtein"]), "diversity_levenshtein", tmp_path / "a.png", "d")
    assert calls == []
    third = [MetricRow(r.run_id, r.suite, r.scenario, 2, r.generation, r.metric, r.value + 0.02, r.higher_is_better)
             for r in two_seeds if r.seed == 1]  # fmt: skip
    curves = collect_curves(two_seeds + third, ["diversity_levenshtein"])
    plot_metric(curves, "diversity_levenshtein", tmp_path / "d.png", "diversity", confidence=0.9, seed=4)
    assert len(calls) == 2 * 3  # 2 scenarios x 3 generations
    assert all(m == "diversity_levenshtein" and c == 0.9 and s == 4 for m, _, c, s in calls)
    # replace, generation 1: 0.6 - 0.2 + 0.01 * seed for seeds 0 and 1, and seed 1's value + 0.02.
    assert calls[1][1] == pytest.approx([0.4, 0.41, 0.43])


def test_write_report_one_seed(tmp_path: Path) -> None:
    # One seed has no interval: the bands collapse onto the lines and the table shows "[–]".
    rows = [r for r in synthetic_rows() if r.seed == 0]
    written = write_report(rows, tmp_path, "demo", None, formats=("png",))
    assert [p.name for p in written] == [*FIGURES, "index.html"]
    for name in FIGURES:
        assert (tmp_path / name).read_bytes().startswith(PNG_MAGIC)
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert (
        '<td><span class="m">replace</span></td><td><span class="m">1</span></td><td><span class="m">4</span>' in page
    )
    assert '<span class="ci">[–]</span></td>' in page and "none for one seed" in page


def test_write_report_no_rows(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no metric rows"):
        write_report([], tmp_path, "demo", None)


# -- the report's sections ---------------------------------------------------------------------------------------


class Page(HTMLParser):
    """The parts of the page the tests look at: elements by id, table header rows, sample items, details."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.stack: list[tuple[str, dict[str, str]]] = []
        self.ids: set[str] = set()
        self.header_rows: list[list[tuple[str, dict[str, str]]]] = []
        self.dl: list[str] = []
        self.samples: list[tuple[str, str]] = []  # (class, text) of each sample item
        self.scenarios: list[str] = []
        self.details_pre = ""
        self.images: list[str] = []
        self.links: list[str] = []
        self._texts: list[list[str]] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        void = tag in ("meta", "img", "br", "link", "hr", "input")
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "tr" and any(t == "thead" for t, _ in self.stack):
            self.header_rows.append([])
        if tag == "img":
            self.images.append(a["src"])
        if tag == "a":
            self.links.append(a["href"])
        if not void:
            self.stack.append((tag, a))
            self._texts.append([])

    def handle_endtag(self, tag: str) -> None:
        text = "".join(self._texts.pop())
        if self._texts:
            self._texts[-1].append(text)  # an element's text includes its children's
        opened, attrs = self.stack.pop()
        assert opened == tag, (opened, tag)
        if tag == "th" and self.header_rows:
            self.header_rows[-1].append((text, attrs))
        elif tag in ("dt", "dd"):
            self.dl.append(text)
        elif tag == "li" and "s" in self.stack[-1][1].get("class", "").split():
            self.samples.append((attrs.get("class", ""), text))
        elif tag == "pre" and any(t == "details" for t, _ in self.stack):
            self.details_pre = text
        elif tag == "h3" and "scenario" in attrs.get("class", ""):
            self.scenarios.append(text.split(" (")[0].strip())

    def handle_data(self, data: str) -> None:
        if self._texts:
            self._texts[-1].append(data)


def test_report_sections(tmp_path: Path) -> None:
    rows = composition_rows()
    config = {"suite": "demo", "seeds": [0, 1], "generations": 4}
    inputs = report_inputs(rows)
    written = write_report(
        rows, tmp_path, "demo", config, run=REPORT_RUN, inputs=inputs, results="{}\n", formats=("png", "svg")
    )
    names = [p.name for p in written]
    stems = (*STEMS, "val_loss", "composition", "drops")
    assert names == [*(f"{s}.{e}" for s in stems for e in ("png", "svg")), "results.json", "index.html"]
    page = Page((tmp_path / "index.html").read_text(encoding="utf-8"))
    assert {"leaderboard", "figures", "samples", "config", "fig-composition", "fig-drops"} <= page.ids

    # Header: run id, suite, commit, device, dates and seeds.
    header = dict(zip(page.dl[::2], page.dl[1::2], strict=True))
    assert header["run"] == "demo-0123456789ab" and header["suite"] == "demo"
    assert header["commit"] == "0123456789ab" and header["device"].startswith("cpu")
    assert header["started"] == "2026-01-02 03:04 UTC" and header["finished"] == "2026-01-02 05:06 UTC"
    assert header["seeds"] == "0, 1" and "torch 2.13.0" in header["versions"]

    # Grouped headers: scenario / seeds / gens span two rows, each metric spans its three columns.
    top, sub = page.header_rows
    assert [t for t, _ in top[:3]] == ["scenario", "seeds", "gens"] and all(a["rowspan"] == "2" for _, a in top[:3])
    groups = {t: int(a.get("colspan", 1)) for t, a in top[3:]}
    # Each metric's group says which way is better.
    assert groups["diversity_levenshtein (higher is better)"] == 3 and groups["correct (higher is better)"] == 3
    assert [t for t, _ in sub[:3]] == ["final", "AUC", "Δ final"]
    assert len(sub) == sum(groups.values())

    # Figures: a PNG each on the page, with SVG and PDF links.
    assert page.images == [f"{s}.png" for s in (*STEMS, "val_loss", "composition", "drops")]
    assert {"drops.svg", "composition.svg"} <= set(page.links) and not any(x.endswith(".pdf") for x in page.links)

    # Samples: escaped, counted, coloured by verdict, scenarios in leaderboard order.
    board_order = [r.scenario for r in build_leaderboard(rows, metrics=("diversity_levenshtein", "correct"))]
    assert page.scenarios == board_order
    texts = [t for _, t in page.samples]
    assert any("3×<script>alert(1)</script>" in t for t in texts)  # parsed back as text: it was escaped
    assert "<script>" not in (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "2×(empty sample)correct" in texts  # an empty sample is visible, not a blank line
    assert {c for c, _ in page.samples} == {"v-correct"}
    per_panel = 10 + 5
    assert len(page.samples) == 2 * 3 * per_panel

    # The configuration is folded away.
    assert '"generations": 4' in page.details_pre
    assert (tmp_path / "results.json").read_text() == "{}\n"


def test_samples_without_verdicts_render(tmp_path: Path) -> None:
    # A text task has no verdicts: no verdict figure, samples in the neutral colour, the page still renders.
    rows = [r for r in synthetic_rows() if r.metric in ("diversity_levenshtein", "unique_ratio")]
    inputs = report_inputs(rows, label_of=lambda text: None)
    written = write_report(rows, tmp_path, "text", {"seeds": [0, 1]}, inputs=inputs, formats=("png",))
    assert "verdicts.png" not in [p.name for p in written]
    page = Page((tmp_path / "index.html").read_text(encoding="utf-8"))
    assert page.samples and {c for c, _ in page.samples} == {"v-none"}


def test_pick_samples_frequent_and_seeded() -> None:
    texts = ["a"] * 5 + ["b"] * 3 + ["c"] * 3 + [f"x{i}" for i in range(30)]
    labels = ["correct"] * 5 + ["invalid"] * 3 + [""] * 3 + ["incorrect"] * 30
    frequent, drawn = pick_samples(texts, labels, seed=7)
    assert [(s.text, s.count, s.label) for s in frequent[:3]] == [
        ("a", 5, "correct"),
        ("b", 3, "invalid"),
        ("c", 3, None),
    ]
    assert len(frequent) == 10 and len(drawn) == 5
    assert pick_samples(texts, labels, seed=7) == (frequent, drawn)  # same seed, same draws
    assert pick_samples(texts, labels, seed=8)[1] != drawn


def test_metric_figure_per_seed_lines_legend_order_and_fitted_limits() -> None:
    rows = synthetic_rows()
    curves = collect_curves(rows, ["diversity_levenshtein"])
    fig = metric_figure(curves, "diversity_levenshtein", "diversity", order=["accumulate", "replace"])
    ax = fig.axes[0]
    # Per scenario: one thin line per seed (dashed: 2 seeds, no band) and the mean line.
    thin = [line for line in ax.get_lines() if line.get_linewidth() < 2]
    assert len(thin) == 2 * 2 and len(ax.get_lines()) == 2 * 3
    assert all(line.get_linestyle() == "--" for line in thin) and not ax.collections
    assert [t.get_text().split(" (")[0] for t in ax.get_legend().get_texts()] == ["accumulate", "replace"]
    low, high = ax.get_ylim()
    values = [r.value for r in rows if r.metric == "diversity_levenshtein"]
    assert low <= min(values) and high >= max(values)
    assert high < 0.7  # fitted to the data (at most 0.61), not fixed to [0, 1]


def test_fitted_limits() -> None:
    assert fitted_limits([0.5, 0.5]) == pytest.approx((0.475, 0.525))
    low, high = fitted_limits([0.0, 1.0], (0.0, 1.0))
    assert -0.02 < low <= 0 and 1 <= high < 1.02
    assert fitted_limits([]) == (0.0, 1.0)


def test_task_figures_hook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []

    def histogram(context: FigureContext):
        seen.append(list(context.order))
        fig = Figure()
        fig.subplots().hist([1, 2, 2, 3])
        return [("histogram", fig, "a per-task figure")]

    monkeypatch.setitem(bench.report.page.TASK_FIGURES, "text", [histogram])
    rows = [r for r in synthetic_rows() if r.metric == "diversity_levenshtein"]
    config = {"scenarios": [{"name": "replace", "task": {"name": "text"}}]}
    written = write_report(rows, tmp_path, "demo", config, formats=("png",))
    assert "histogram.png" in [p.name for p in written] and len(seen) == 1
    assert "histogram.png" in Page((tmp_path / "index.html").read_text(encoding="utf-8")).images
