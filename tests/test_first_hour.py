"""A new user's first hour: `bench list`, `bench samples`, `bench compare`, the report's summary and sample pages,
bounded intervals, and leaderboard output that says where it came from. Runs use the empirical learner."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from conftest import ROOT, in_process, write_suite
from scipy import stats as sps

from bench.analysis.bounded import is_unit_metric, logit_interval, metric_interval
from bench.analysis.leaderboard import build_leaderboard
from bench.analysis.summary import MIN_SEEDS_FOR_SIGNIFICANCE, summary_lines
from bench.cli.main import main
from bench.records import MetricRow, RunRow
from bench.report.samples import embedded_json, render_cell_page


@pytest.fixture(scope="module")
def runs(empirical_run, tmp_path_factory) -> tuple[Path, Path, Path]:
    """Two finished runs of one suite, the second with seeds [0] only: (suite file, results A, results B)."""
    suite, a, _ = empirical_run
    b = tmp_path_factory.mktemp("firsthour") / "b"
    assert main(["run", str(suite), "--results", str(b), "--quiet", "--set", "seeds=[0]"]) == 0
    return suite, a, b


def one_error_line(code: int, out: str, err: str) -> str:
    assert code == 2 and out == "" and err.count("\n") == 1 and err.startswith("bench: error: "), (code, out, err)
    return err


# -- bench list -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "names"),
    [
        ("tasks", {"logic", "identities", "text"}),
        ("learners", {"transformer", "empirical"}),
        ("regimes", {"replace", "fixed_real", "accumulate"}),
        ("mitigations", {"verifier_filter", "dedup"}),
        ("metrics", {"diversity_levenshtein", "correct", "real_nll"}),
    ],
)
def test_list_names_every_registered_item_with_a_description(kind, names, capsys) -> None:
    code, out, _ = in_process(capsys, "list", kind)
    assert code == 0
    listed = {line.split()[0]: line.split(None, 1)[1] for line in out.splitlines()}
    assert names <= set(listed)
    assert all(text.strip() for text in listed.values())


def test_list_metrics_states_each_direction(capsys) -> None:
    out = in_process(capsys, "list", "metrics")[1]
    lines = {line.split()[0]: line for line in out.splitlines()}
    assert "[higher is better]" in lines["correct"] and "[lower is better]" in lines["real_nll"]


def test_list_includes_plugins(capsys) -> None:
    from bench.mitigations.base import MITIGATIONS, Mitigation

    class LengthCap(Mitigation):
        """Keep samples of at most N tokens (a plugin's mitigation)."""

    # What loading an entry-point plugin does: the plugin's module registers into the same registry.
    MITIGATIONS.add("length_cap_plugin", LengthCap)
    try:
        out = in_process(capsys, "list", "mitigations")[1]
    finally:
        del MITIGATIONS._items["length_cap_plugin"]
    assert re.search(r"^length_cap_plugin\s+Keep samples of at most N tokens", out, re.MULTILINE)


def test_list_suites_reads_their_descriptions(tmp_path, capsys) -> None:
    code, out, _ = in_process(capsys, "list", "suites", "--dir", str(ROOT / "suites"))
    assert code == 0
    smoke = next(line for line in out.splitlines() if line.startswith("smoke.yaml"))
    assert "tiny GPT-2 on CPU" in smoke
    one_error_line(*in_process(capsys, "list", "suites", "--dir", str(tmp_path / "absent")))


# -- bench samples ----------------------------------------------------------------------------------------------


def _samples_file(results: Path, scenario: str, seed: int, generation: int) -> Path:
    (path,) = results.glob(f"artifacts/*/{scenario}/seed-{seed}/gen-{generation:03d}/samples.parquet")
    return path


def test_samples_top_k_are_the_most_frequent_with_their_counts(runs, capsys) -> None:
    _, a, _ = runs
    code, out, _ = in_process(
        capsys, "samples", "--results", str(a), "--scenario", "replace", "--seed", "1", "--generation", "2",
        "--top", "3", "--format", "json",
    )  # fmt: skip
    assert code == 0
    shown = [json.loads(line) for line in out.splitlines()]
    texts = pq.read_table(_samples_file(a, "replace", 1, 2)).column("text").to_pylist()
    expected = sorted(Counter(texts).items(), key=lambda item: (-item[1], item[0]))[:3]
    assert [(s["text"], s["count"]) for s in shown] == expected
    assert {(s["scenario"], s["seed"], s["generation"]) for s in shown} == {("replace", 1, 2)}


def test_samples_filter_by_label_and_regular_expression(runs, capsys) -> None:
    _, a, _ = runs
    out = in_process(
        capsys, "samples", "--results", str(a), "--label", "correct", "--grep", r"^not ", "--format", "json"
    )
    shown = [json.loads(line) for line in out[1].splitlines()]
    assert shown and all(s["label"] == "correct" and s["text"].startswith("not ") for s in shown)
    # Every matching sample of every cell and generation, once each (no --top): the count from the files.
    expected = 0
    for path in a.glob("artifacts/*/*/seed-*/gen-*/samples.parquet"):
        table = pq.read_table(path).to_pydict()
        pairs = zip(table["text"], table["label"], strict=True)
        expected += sum(1 for t, label in pairs if label == "correct" and t.startswith("not "))
    assert len(shown) == expected
    text = in_process(capsys, "samples", "--results", str(a), "--scenario", "filtered", "--top", "1")[1]
    assert all(line.split("\t")[:1] == ["filtered"] for line in text.splitlines())
    assert len(text.splitlines()) == 2 * 3  # one line per seed and generation


@pytest.mark.parametrize(
    ("option", "value", "named"),
    [
        ("--scenario", "replac", "did you mean 'replace'"),
        ("--seed", "7", "seeds: 0, 1"),
        ("--generation", "9", "generations: 0, 1, 2"),
        ("--grep", "(", "not a regular expression"),
        ("--top", "0", "--top 0"),
    ],
)
def test_samples_bad_filters_exit_2_naming_the_option(runs, option, value, named, capsys) -> None:
    _, a, _ = runs
    err = one_error_line(*in_process(capsys, "samples", "--results", str(a), option, value))
    assert option in err and named in err


# -- bench compare ----------------------------------------------------------------------------------------------


def test_compare_two_results_directories(runs, capsys) -> None:
    _, a, b = runs
    code, out, _ = in_process(capsys, "compare", str(a), str(b), "--metrics", "diversity_levenshtein,correct")
    assert code == 0
    assert re.search(r"seeds: R1 \[0, 1\] \| R2 \[0\]", out)
    rows = [line.split() for line in out.splitlines() if line.startswith(("replace ", "filtered "))]
    metrics = ("diversity_levenshtein", "correct")
    assert {(r[0], r[1]) for r in rows} == {(s, m) for s in ("replace", "filtered") for m in metrics}
    # The numbers are the leaderboard's: each run's final mean over seeds.
    board = build_leaderboard(_rows(a), metrics=["diversity_levenshtein", "correct"], primary="diversity_levenshtein")
    replace = next(r for r in board if r.scenario == "replace")
    line = next(r for r in rows if r[:2] == ["replace", "correct"])
    assert line[2] == f"{replace.value('correct'):.3f}"


def test_compare_by_run_id_and_as_json(runs, capsys) -> None:
    _, a, b = runs
    from bench.store.database import Store

    run_b = Store(b).choose_run().run_id
    code, out, _ = in_process(capsys, "compare", str(a), run_b, "--results", str(b), "--format", "json")
    assert code == 0
    document = json.loads(out)
    assert document["runs"][1]["run_id"] == run_b and "seeds" in document["differing_settings"]


def test_compare_refuses_what_it_cannot_compare(runs, capsys) -> None:
    _, a, b = runs
    assert "at least two" in one_error_line(*in_process(capsys, "compare", str(a)))
    assert "no-such-run" in one_error_line(*in_process(capsys, "compare", str(a), "no-such-run", "--results", str(a)))
    assert "nope" in one_error_line(*in_process(capsys, "compare", str(a), str(b), "--metrics", "nope"))


# -- the leaderboard's own output -------------------------------------------------------------------------------


def _rows(results: Path) -> list[MetricRow]:
    from bench.store.database import Store

    store = Store(results)
    return store.metric_rows(store.choose_run().run_id)


def test_leaderboard_unknown_metric_exits_2(runs, capsys) -> None:
    _, a, _ = runs
    err = one_error_line(*in_process(capsys, "leaderboard", "--results", str(a), "--metrics", "correct,nope"))
    assert "--metrics nope" in err


@pytest.mark.parametrize("fmt", ["md", "csv", "json"])
def test_leaderboard_files_name_run_suite_and_commit(runs, fmt, capsys) -> None:
    _, a, _ = runs
    code, out, _ = in_process(capsys, "leaderboard", "--results", str(a), "--format", fmt)
    assert code == 0
    run_id = re.search(r"tinyemp-[0-9a-f]{12}", out).group(0)
    if fmt == "json":
        assert all(row["run_id"] == run_id and row["suite"] == "tinyemp" for row in json.loads(out))
    elif fmt == "csv":
        assert out.splitlines()[0].startswith("run_id,suite,git_commit,scenario")
    else:
        assert out.startswith(f"**collapse bench leaderboard — run {run_id}, suite tinyemp, commit ")


# -- the report: summary first, sample pages --------------------------------------------------------------------


def test_report_opens_with_a_summary_and_links_each_cells_sample_page(runs, tmp_path, capsys) -> None:
    _, a, _ = runs
    code, out, _ = in_process(capsys, "report", "--results", str(a), "--out", str(tmp_path / "r"))
    assert code == 0
    page = (tmp_path / "r" / "index.html").read_text()
    assert page.index('id="summary"') < page.index('id="leaderboard"') < page.index('id="figures"')
    summary = page[page.index('id="summary"') : page.index('id="leaderboard"')]
    assert "diversity_levenshtein (higher is better)" in summary and "is best" in summary
    assert "With 2 paired seeds" in summary
    assert "(higher is better)" in page[page.index('id="leaderboard"') :]
    pages = sorted((tmp_path / "r").glob("samples-*.html"))
    assert len(pages) == 4  # 2 scenarios x 2 seeds
    for name in (p.name for p in pages):
        assert f'href="{name}"' in page
    cell = pages[0].read_text()
    assert "<script src" not in cell and "http" not in cell.split('id="cell-data"')[1]
    data = json.loads(re.search(r'<script type="application/json" id="cell-data">(.*?)</script>', cell, re.S).group(1))
    assert [g["generation"] for g in data["generations"]] == [0, 1, 2]
    assert all(sum(s[1] for s in g["samples"]) == g["total"] for g in data["generations"])


def test_sample_page_embeds_hostile_text_inertly() -> None:
    hostile = "</script><script>alert(1)</script><img src=x onerror=alert(2)> & \u2028"
    payload = {"scenario": "<b>s</b>", "seed": 0, "generations": [{"generation": 0, "total": 1, "distinct": 1,
               "cut": 0, "samples": [[hostile, 1, "correct"]]}]}  # fmt: skip
    page = render_cell_page(payload, "run-1", {"correct": "#2ca25f"})
    assert hostile not in page and "<b>s</b>" not in page and "alert(1)</script>" not in page
    embedded = re.search(r'<script type="application/json" id="cell-data">(.*?)</script>', page, re.S).group(1)
    assert json.loads(embedded) == payload  # escaped for HTML, the same data for the script
    assert json.loads(embedded_json(hostile)) == hostile


# -- summary sentences ------------------------------------------------------------------------------------------


def _rows_of(curves: dict[str, dict[int, list[float]]], metric: str = "correct") -> list[MetricRow]:
    return [
        MetricRow("r", "s", scenario, seed, g, metric, v, True)
        for scenario, seeds in curves.items()
        for seed, curve in seeds.items()
        for g, v in enumerate(curve)
    ]


def test_summary_names_the_best_scenario_and_its_significance() -> None:
    seeds = range(MIN_SEEDS_FOR_SIGNIFICANCE + 1)  # p = 2/2^7 per comparison, Holm over two: 0.03125
    rows = _rows_of(
        {
            "replace": {s: [0.5, 0.4 + 0.01 * s] for s in seeds},
            "filter": {s: [0.5, 0.8 + 0.01 * s] for s in seeds},  # better on every seed
            "other": {s: [0.5, 0.45 + 0.01 * s] for s in seeds},
        }
    )
    board = build_leaderboard(rows, baseline="replace", primary="correct", metrics=["correct"])
    (sentence,) = summary_lines(board, ["correct"])
    assert sentence.startswith("correct (higher is better): filter is best (final 0.83)")
    assert ": significant (Holm-adjusted sign-flip p = 0.031)" in sentence
    primary = summary_lines(board, ["correct"], primary={"scenario": "other", "metric": "correct"})
    assert primary[0].startswith("Primary contrast: other vs replace on correct") and "significant" in primary[0]


def test_summary_says_when_few_seeds_cannot_be_significant() -> None:
    rows = _rows_of({"replace": {0: [0.5, 0.4], 1: [0.5, 0.42]}, "filter": {0: [0.5, 0.9], 1: [0.5, 0.92]}})
    board = build_leaderboard(rows, baseline="replace", primary="correct", metrics=["correct"])
    lines = summary_lines(board, ["correct"])
    assert "not significant" in lines[0]
    assert lines[-1].startswith("With 2 paired seeds the exact sign-flip test cannot go below p = 0.5")


def test_summary_when_the_baseline_is_best() -> None:
    rows = _rows_of({"replace": {0: [0.5, 0.9], 1: [0.5, 0.92]}, "filter": {0: [0.5, 0.4], 1: [0.5, 0.42]}})
    board = build_leaderboard(rows, baseline="replace", primary="correct", metrics=["correct"])
    assert summary_lines(board, ["correct"])[0] == (
        "correct (higher is better): the baseline replace is best (final 0.91); "
        "no scenario differs significantly from it."
    )


# -- intervals of bounded metrics -------------------------------------------------------------------------------


def test_logit_interval_is_the_t_interval_of_the_logits_mapped_back() -> None:
    values = [0.3, 0.62]
    got = logit_interval(values)
    logits = np.log(np.array(values) / (1 - np.array(values)))
    half = sps.t.ppf(0.975, 1) * logits.std(ddof=1) / np.sqrt(2)
    expected = 1 / (1 + np.exp(-(logits.mean() + np.array([-half, half]))))
    assert got.mean == pytest.approx(0.46)
    assert (got.low, got.high) == pytest.approx(tuple(expected))
    assert 0.0 < got.low < got.mean < got.high < 1.0


def test_bounded_metrics_stay_in_bounds_and_others_do_not_change() -> None:
    assert is_unit_metric("unique_ratio") and is_unit_metric("correct") and not is_unit_metric("real_nll")
    # every share the harness records is a share of something: [0, 1] by definition
    from bench.metrics import METRICS

    shares = [name for name in METRICS.names() if name.endswith("_share")]
    assert {"trivial_share", "empty_share"} <= set(shares)
    assert all(is_unit_metric(name) for name in shares), [n for n in shares if not is_unit_metric(n)]
    # A seed on a bound: the plain t interval (mean 0.99, half-width t(2)·0.01/√3 = 0.0248), clipped at 1.
    edge = metric_interval("correct", [1.0, 0.98, 0.99])
    half = sps.t.ppf(0.975, 2) * 0.01 / np.sqrt(3)
    assert (edge.mean, edge.low, edge.high) == pytest.approx((0.99, 0.99 - half, 1.0))
    assert logit_interval([1.0, 1.0]).low == 1.0  # identical values: zero width, as bench.analysis.stats gives
    plain = metric_interval("real_nll", [0.3, 0.62])
    assert plain.low < 0  # an unbounded metric keeps the plain t interval


# -- figures ----------------------------------------------------------------------------------------------------


def _curves(n_scenarios: int, n_seeds: int):
    from bench.analysis.leaderboard import collect_curves

    rng = np.random.default_rng(0)
    rows = _rows_of({f"s{i}": {s: list(rng.uniform(0.2, 0.8, 4)) for s in range(n_seeds)} for i in range(n_scenarios)})
    return collect_curves(rows, ["correct"])


@pytest.mark.parametrize(("scenarios", "seeds", "bands", "panels"), [(3, 2, 0, 1), (3, 3, 3, 1), (5, 3, 5, 5)])
def test_bands_only_from_three_seeds_and_small_multiples_above_four(scenarios, seeds, bands, panels) -> None:
    from matplotlib.collections import PolyCollection

    from bench.report.figures import metric_figure

    fig = metric_figure(_curves(scenarios, seeds), "correct", "share")
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(axes) == panels
    assert sum(isinstance(c, PolyCollection) for ax in axes for c in ax.collections) == bands
    # Every seed's line is drawn (plus one mean line per scenario).
    assert sum(len(ax.lines) for ax in axes) == scenarios * (seeds + 1)


def test_drops_use_verdict_colours_and_composition_lists_present_origins() -> None:
    from matplotlib.colors import to_hex

    from bench.analysis.leaderboard import collect_curves
    from bench.report.figures import VERDICT_COLORS, composition_figure, drops_figure
    from bench.report.inputs import Drop

    drops = [Drop("f", 0, 1, "verifier_filter:incorrect", 5), Drop("f", 0, 1, "dedup:duplicate", 2)]
    fig = drops_figure(drops, {"f": 1}, ["f"])
    bars = {p.get_label(): to_hex(p.patches[0].get_facecolor()) for p in fig.axes[0].containers}
    assert bars["verifier_filter:incorrect"] == VERDICT_COLORS["incorrect"] != VERDICT_COLORS["correct"]
    assert bars["dedup:duplicate"] not in VERDICT_COLORS.values()
    rows = [MetricRow("r", "s", "a", 0, g, m, v, None) for g in range(2) for m, v in
            (("data_real_share", 0.0), ("data_fresh_share", 0.0), ("data_synthetic_share", 1.0))]  # fmt: skip
    rows += [MetricRow("r", "s", "a", 0, g, "data_real_share", 1.0, None) for g in range(0)]
    legend = composition_figure(collect_curves(rows, ["data_real_share", "data_fresh_share", "data_synthetic_share"]))
    assert [t.get_text() for t in legend.legends[0].get_texts()] == ["synthetic"]


def test_score_all_invalid_lines_has_no_depth(tmp_path, capsys) -> None:
    lines = tmp_path / "invalid.txt"
    lines.write_text("x + \n( y\n")
    code, out, _ = in_process(capsys, "score", "--task", "identities", str(lines))
    scores = json.loads(out)
    assert code == 0 and scores["invalid"] == 1.0
    assert scores["depth_mean"] is None and scores["depth_var"] is None


def test_help_shows_defaults(capsys) -> None:
    code, out, _ = in_process(capsys, "pretrain", "--help")
    flat = " ".join(out.split())
    assert code == 0 and "(default: 2048)" in flat and "--seed SEED (default: 0)" in flat
    assert "(default: None)" not in flat and "(default: False)" not in flat


# -- estimates and progress -------------------------------------------------------------------------------------


def test_estimate_gives_a_range_the_load_and_uses_earlier_runs(runs, tmp_path, capsys) -> None:
    suite, a, _ = runs
    code, out, _ = in_process(capsys, "validate", str(suite), "--estimate", "--results", str(tmp_path / "none"))
    assert code == 0
    assert re.search(r"time +about .+; range .+ to .+", out)
    assert "machine load at probe time" in out and "central value from" not in out
    # The fixture's run recorded 2 seeds' generation-0 fits plus 2 later ones per cell: 2 + 2 × 2 × 2 = 10 fits.
    # It ran with one torch thread, and the device (threads included) must match for its timings to count.
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        code, out, _ = in_process(capsys, "validate", str(suite), "--estimate", "--results", str(a))
    finally:
        torch.set_num_threads(threads)
    assert code == 0 and "central value from 10 fit(s) of the same learner setup in 1 earlier run(s)" in out


def test_step_bar_restarts_its_clock_with_each_pass() -> None:
    from rich.progress import Progress

    from bench.run.sequential import StepBar

    with Progress(disable=True) as progress:
        task = progress.add_task("  fitting", total=10)
        bar = StepBar(progress, task)
        bar.update("  fitting", 3, 10, "")
        started = progress.tasks[0].start_time
        bar.update("  fitting", 5, 10, "")
        assert progress.tasks[0].start_time == started  # the same pass
        bar.update("  sampling", 1, 4, "")
        assert progress.tasks[0].start_time > started and progress.tasks[0].completed == 1
        again = progress.tasks[0].start_time
        bar.update("  sampling", 0, 4, "")  # a new sampling pass starts from 0
        assert progress.tasks[0].start_time > again


def test_cached_generation_zero_line_and_rate() -> None:
    from bench.records import GenerationRecord
    from bench.run.progress import GenerationReporter

    clock = iter([0.0, 10.0, 10.0, 10.0]).__next__
    record = GenerationRecord("r", "s", "b", 0, 0, {"correct": 0.5}, {}, {}, "p", "d", None, 5, None, 9.0, 0.1, 1.0)
    reporter = GenerationReporter("unused", "r", 3, total=4, clock=clock)
    reporter.write = lambda line: None  # no log file for this unit test
    assert reporter.finished(record).startswith("b seed 0 gen 0/2: train 9.0 s")
    line = reporter.finished(record, cached=True)
    assert "train cached" in line
    # One generation run in 10 s, one cached: two left at 10 s each, not at 5 s.
    assert line.endswith("suite ETA 20 s")


def test_primary_contrast_against_another_scenario_gives_means_without_a_test() -> None:
    rows = _rows_of({"replace": {0: [0.5, 0.4]}, "a": {0: [0.5, 0.6]}, "b": {0: [0.5, 0.7]}})
    board = build_leaderboard(rows, baseline="replace", primary="correct", metrics=["correct"])
    (line, *_) = summary_lines(board, ["correct"], primary={"scenario": "b", "against": "a", "metric": "correct"})
    assert line == (
        "Primary contrast: b vs a on correct: final 0.7 vs 0.6 (tested against replace here; "
        "`bench leaderboard --baseline a` tests this contrast)."
    )


# -- suite paths ------------------------------------------------------------------------------------------------


def test_relative_suite_paths_are_the_suite_folders(tmp_path, monkeypatch) -> None:
    from bench.suite.paths import resolve_suite_paths

    data = {
        "task": {"name": "text", "params": {"corpus": "../corpora/c.txt", "tokenizer": "/abs/tok", "chunk_tokens": 8}},
        "model": {"pretrained": "m"},
        "scenarios": [{"name": "a", "model": {"pretrained": "../x"}}, {"name": "b"}],
    }
    monkeypatch.chdir(tmp_path)
    resolve_suite_paths(data, "repo/suites/s.yaml")
    assert data["task"]["params"] == {"corpus": "repo/corpora/c.txt", "tokenizer": "/abs/tok", "chunk_tokens": 8}
    assert data["model"]["pretrained"] == "repo/suites/m" and data["scenarios"][0]["model"]["pretrained"] == "repo/x"


def test_a_missing_text_input_names_the_folder_it_looked_in(tmp_path, monkeypatch, capsys) -> None:
    folder = tmp_path / "project" / "suites"
    folder.mkdir(parents=True)
    suite = write_suite(
        folder / "t.yaml",
        {
            "suite": "t",
            "seeds": [0],
            "generations": 1,
            "task": {"name": "text", "params": {"corpus": "../corpora/c.txt", "tokenizer": "../models/tok"}},
            "data": {"size": 10},
            "scenarios": [{"name": "replace", "regime": {"kind": "replace"}}],
        },
    )
    monkeypatch.chdir(tmp_path)
    err = one_error_line(*in_process(capsys, "validate", str(suite)))
    assert f"(looked in {tmp_path / 'project' / 'models'})" in err


def test_summary_calls_correct_but_uniform_output_collapse() -> None:
    rows = _rows_of({"replace": {0: [0.5, 0.6], 1: [0.5, 0.62]}, "cold": {0: [0.8, 1.0], 1: [0.8, 1.0]}})
    rows += _rows_of(
        {"replace": {0: [0.6, 0.5], 1: [0.6, 0.52]}, "cold": {0: [0.3, 0.01], 1: [0.3, 0.02]}}, "unique_ratio"
    )
    board = build_leaderboard(rows, baseline="replace", primary="unique_ratio", metrics=["correct", "unique_ratio"])
    lines = summary_lines(board, ["correct", "unique_ratio"])
    assert lines[-2] == (
        "Collapse, not a win: cold is best on correct (1) and the least diverse on unique_ratio (0.015); it reached "
        "≥ 99% correct at generation 1 (2/2 seeds). Correctness rising as diversity falls means the model repeats a "
        "few correct samples."
    )


def test_compare_names_a_scenario_only_some_runs_have_once() -> None:
    from bench.analysis.compare import ComparedRun, differing_settings

    def run(config: dict, commit: str) -> ComparedRun:
        return ComparedRun(
            "x", RunRow(run_id="r", suite="s", config=json.dumps(config), status="x", git_commit=commit), []
        )

    a = {"seeds": [0], "scenarios": [{"name": "r", "sampling": {"temperature": 0.8}}]}
    b = {"seeds": [0], "scenarios": [{"name": "r", "sampling": {"temperature": 0.5}}, {"name": "c", "x": {"y": 1}}]}
    assert differing_settings([run(a, "abc"), run(b, "abc")]) == {
        "scenarios[c]": ["(absent)", "present"],
        "scenarios[r].sampling.temperature": [0.8, 0.5],
    }
