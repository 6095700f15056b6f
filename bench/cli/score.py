"""``bench score --task NAME FILE``: the metrics of a file of samples (one a line), as one JSON object."""

from __future__ import annotations

import argparse
import json

from bench.cli.common import normalize_sample, task_named
from bench.cli.errors import BadInput


def register(sub: argparse._SubParsersAction) -> None:
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


def cmd_score(args: argparse.Namespace) -> int:
    from bench.analysis.scoring import ScoreInputError, check_size, check_work, diversity_estimate, read_samples

    if args.task == "text":
        return _score_text(args)
    if args.features is not None:
        raise BadInput(f"--features applies to --task text only (got --task {args.task})")
    task = task_named(args.task)
    if args.sample_pairs is not None and not 2 <= args.sample_pairs <= 10_000_000:
        raise BadInput(f"--sample-pairs {args.sample_pairs}: give a number of pairs from 2 to 10,000,000")
    try:
        samples = read_samples(args.file, "", normalize_sample)
        check_size(len(set(samples)), args.file, args.sample_pairs)
        check_work(samples, args.file, args.sample_pairs)
        reference = read_samples(args.reference, "--reference ", normalize_sample) if args.reference else None
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
