"""Metrics of one generation's samples: correctness, diversity, novelty and shape statistics.

Every metric is a pure function of a list of sample strings (tokens joined by single spaces) and,
where named, the verdict labels, a depth function, the real data R or the training set T_g.
Each metric is registered in ``METRICS`` with its direction (``higher_is_better``; ``None`` for
descriptive statistics) so that a reader of the results database never needs this code.

Adding a metric: one function decorated with ``@metric(name, higher_is_better, description)``, here or in a
plugin module (entry-point group ``collapse_bench.metrics``); ``score_samples`` picks it up from the registry.
"""

from __future__ import annotations

import gzip
import io
import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from bench.registry import Registry
from bench.tasks.base import LABELS

# ---------------------------------------------------------------------------------------------
# Correctness


def verdict_shares(labels: Sequence[str]) -> dict[str, float]:
    """Shares of ``correct``, ``incorrect`` and ``invalid`` labels; they sum to 1 (all 0 for no labels)."""
    counts = Counter(labels)
    unknown = set(counts) - set(LABELS)
    if unknown:
        raise ValueError(f"unknown verdict label(s) {sorted(unknown)}; expected one of {list(LABELS)}")
    total = len(labels)
    return {label: (counts[label] / total if total else 0.0) for label in LABELS}


# ---------------------------------------------------------------------------------------------
# Token-level Levenshtein diversity

# Surrogate code points cannot stand alone in a str that rapidfuzz hashes safely; skip them.
_SURROGATES_START, _SURROGATES_SIZE = 0xD800, 0x800
_MAX_TOKENS = 0x110000 - _SURROGATES_SIZE


def _code_point(index: int) -> str:
    if index >= _MAX_TOKENS:
        raise ValueError(f"more than {_MAX_TOKENS} distinct tokens cannot be mapped to characters")
    return chr(index if index < _SURROGATES_START else index + _SURROGATES_SIZE)


def tokens_as_chars(samples: Iterable[str]) -> list[str]:
    """Each sample as a string with one character per whitespace token (one shared token -> char map).

    Character-level Levenshtein on these strings equals token-level Levenshtein on the samples,
    which lets rapidfuzz's fast C++ kernels do the work.
    """
    vocab: dict[str, str] = {}
    out = []
    for sample in samples:
        chars = []
        for token in sample.split():
            char = vocab.get(token)
            if char is None:
                char = vocab[token] = _code_point(len(vocab))
            chars.append(char)
        out.append("".join(chars))
    return out


def normalized_levenshtein_rows(queries: Sequence[str], choices: Sequence[str], *, workers: int = -1) -> np.ndarray:
    """float64 matrix of lev(q, c) / max(|q|, |c|) over already-encoded strings (0 for two empties).

    Integer distances from rapidfuzz divided in float64: exact to the last bit, unlike float32 cdist.
    """
    dist = process.cdist(queries, choices, scorer=Levenshtein.distance, dtype=np.int32, workers=workers)
    q_len = np.fromiter((len(q) for q in queries), dtype=np.int64, count=len(queries))
    c_len = np.fromiter((len(c) for c in choices), dtype=np.int64, count=len(choices))
    denom = np.maximum(q_len[:, None], c_len[None, :])
    out = np.zeros(dist.shape, dtype=np.float64)
    np.divide(dist, denom, out=out, where=denom > 0)
    return out


BLOCK_CELLS = 1 << 21
"""Pairs per block of the exact diversity: about 2M cells, some 50 MB of temporaries whatever the input size."""


def diversity_levenshtein(samples: Sequence[str], *, chunk_rows: int = 512) -> float:
    """Mean over all unordered pairs i<j of token-level lev(a_i, a_j) / max(|a_i|, |a_j|).

    Exact over all pairs. Computed on distinct samples with multiplicities (identical samples
    add 0; pair (u, v) weighs count_u * count_v), in row chunks of the upper triangle to bound
    memory (at most ``chunk_rows`` rows and ``BLOCK_CELLS`` cells of float64 at a time).
    Fewer than 2 samples -> 0.0.
    """
    n = len(samples)
    if n < 2:
        return 0.0
    counts = Counter(tokens_as_chars(samples))
    distinct = list(counts)
    weights = np.fromiter(counts.values(), dtype=np.float64, count=len(distinct))
    total = 0.0
    chunk_rows = max(1, min(chunk_rows, BLOCK_CELLS // len(distinct)))
    for start in range(0, len(distinct), chunk_rows):
        stop = min(start + chunk_rows, len(distinct))
        # Rows [start, stop) against columns [start, end): the upper triangle only.
        block = normalized_levenshtein_rows(distinct[start:stop], distinct[start:])
        rows = stop - start
        block[:, :rows] = np.triu(block[:, :rows], k=1)
        total += float(weights[start:stop] @ block @ weights[start:])
    return total / (n * (n - 1) / 2)


# ---------------------------------------------------------------------------------------------
# Counting diversity


def unique_count(samples: Sequence[str]) -> int:
    """Number of distinct sample strings."""
    return len(set(samples))


def unique_ratio(samples: Sequence[str]) -> float:
    """Distinct samples / samples (0 for no samples)."""
    return len(set(samples)) / len(samples) if samples else 0.0


def distinct_n(samples: Sequence[str], n: int) -> float:
    """Unique token n-grams / all token n-grams, n-grams taken within samples (0 when there are none)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    seen: set[tuple[str, ...]] = set()
    total = 0
    # Each distinct sample once, weighted by its count: the same value, and collapsed generations are cheap.
    for sample, count in Counter(samples).items():
        tokens = sample.split()
        total += count * max(0, len(tokens) - n + 1)
        seen.update(zip(*(tokens[i:] for i in range(n)), strict=False))  # the n-grams, without slicing each
    return len(seen) / total if total else 0.0


# compression_ratio and ngram_diversity follow Shaib et al.'s `diversity` package v0.3.1
# (github.com/cshaib/diversity, files diversity/compression.py and diversity/ngram_diversity.py;
# checked against the 0.3.1 wheel), including their round(..., 3).


def compression_ratio(samples: Sequence[str]) -> float:
    """gzip compression ratio of the samples joined by single spaces, as ``diversity`` 0.3.1 computes it.

    That package writes the joined text to ``original.txt`` (UTF-8) and
    ``gzip.compress(text)`` into ``gzip.GzipFile("compressed.gz")`` - the bytes are gzipped twice,
    and the outer header carries the file name ``compressed``; the ratio is
    size(original.txt) / size(compressed.gz). We rebuild the same bytes in memory. Higher means
    more repetitive. No samples -> 0.0 (the package also gives 0.0).

    One deliberate difference: both gzip layers get ``mtime=0``. The package stamps the current time into the
    inner stream, which the outer layer then compresses, so its result drifts with the clock (by a byte: 0.161 vs
    0.164 for ``["True", "False"]``); a benchmark's numbers must not.
    """
    data = " ".join(samples).encode("utf-8")
    buffer = io.BytesIO()
    # filename= puts the same FNAME header field ("compressed") into the outer gzip as the package's file.
    with gzip.GzipFile(filename="compressed.gz", mode="wb", fileobj=buffer, mtime=0) as outer:
        outer.write(gzip.compress(data, mtime=0))
    return round(len(data) / len(buffer.getvalue()), 3)


def ngram_diversity(samples: Sequence[str], num_n: int = 4) -> float:
    """Sum over n = 1..num_n of unique/all n-grams of the joined token stream, as ``diversity`` 0.3.1.

    The package joins samples with single spaces and splits on ``" "`` (so n-grams cross sample
    boundaries and empty samples add empty tokens). Where it would divide by zero (fewer than n
    tokens in all), that term counts 0 here; no samples -> 0.0.
    """
    if not samples:
        return 0.0
    # Joining with " " and splitting on " " is each sample's split(" ") in turn. Tokens become integer ids, each
    # distinct sample is encoded once, and n-grams are counted as packed integers: memory follows the stream's
    # token count in 4-byte ids, not one string per token (450 MB for 200,000 lines of 30 tokens that way).
    vocab: dict[str, int] = {}
    encoded: dict[str, np.ndarray] = {}
    for sample in samples:
        if sample not in encoded:
            ids = [vocab.setdefault(token, len(vocab)) for token in sample.split(" ")]
            encoded[sample] = np.array(ids, dtype=np.int32)
    stream = np.concatenate([encoded[sample] for sample in samples])
    base = len(vocab)
    score = 0.0
    for n in range(1, num_n + 1):
        count = len(stream) - n + 1
        if count <= 0:
            continue
        if base**n < 2**63:
            keys = stream[:count].astype(np.int64)
            for i in range(1, n):
                keys *= base
                keys += stream[i : i + count]
            unique = len(np.unique(keys))
        else:  # too many distinct tokens to pack n of them into 63 bits
            unique = len(set(zip(*(stream[i : i + count].tolist() for i in range(n)), strict=True)))
        score += unique / count
    return round(score, 3)


# ---------------------------------------------------------------------------------------------
# Novelty against real data and memorization of training data


def novelty(samples: Sequence[str], reference: Iterable[str]) -> float:
    """Share of samples that are not in the reference set R (0 for no samples)."""
    ref = set(reference)
    return sum(s not in ref for s in samples) / len(samples) if samples else 0.0


def memorized(samples: Sequence[str], training: Iterable[str]) -> float:
    """Share of samples that appear verbatim in the training set T_g (0 for no samples)."""
    train = set(training)
    return sum(s in train for s in samples) / len(samples) if samples else 0.0


# ---------------------------------------------------------------------------------------------
# Shape statistics


def _mean_var(values: Sequence[float]) -> tuple[float, float]:
    """Mean and population variance (ddof=0); (0, 0) for no values."""
    if not values:
        return 0.0, 0.0
    mean = math.fsum(values) / len(values)
    return mean, math.fsum((v - mean) ** 2 for v in values) / len(values)


def length_stats(samples: Sequence[str]) -> tuple[float, float]:
    """Mean and population variance of the token counts; (0, 0) for no samples."""
    return _mean_var([len(s.split()) for s in samples])


def depth_stats(samples: Sequence[str], depth_of: Callable[[str], int | None]) -> tuple[float, float]:
    """Mean and population variance of ``depth_of`` over samples, skipping invalid ones (``None``).

    (0, 0) when no sample is valid.
    """
    return _mean_var([d for d in map(depth_of, samples) if d is not None])


def js_divergence_lengths(samples: Sequence[str], reference: Sequence[str]) -> float:
    """Jensen-Shannon divergence (base 2, in [0, 1]) between the token-length distributions.

    0 when either list is empty (there is no distribution to compare).
    """
    if not samples or not reference:
        return 0.0
    p = Counter(len(s.split()) for s in samples)
    q = Counter(len(s.split()) for s in reference)
    n_p, n_q = len(samples), len(reference)
    total = 0.0
    for length in p.keys() | q.keys():
        pi, qi = p[length] / n_p, q[length] / n_q
        mi = (pi + qi) / 2
        if pi:
            total += 0.5 * pi * math.log2(pi / mi)
        if qi:
            total += 0.5 * qi * math.log2(qi / mi)
    return min(1.0, max(0.0, total))  # clamp float noise at the ends


# ---------------------------------------------------------------------------------------------
# Meaning: diversity of what correct samples say, for tasks that define a meaning key


def semantic_counts(verdicts: Sequence[str], meanings: Sequence[str | None]) -> Counter[str]:
    """How often each meaning occurs among the correct samples (samples without a meaning are skipped)."""
    return Counter(m for v, m in zip(verdicts, meanings, strict=True) if v == "correct" and m is not None)


def semantic_novelty(s: ScoreInput) -> float:
    """Share of the correct samples whose meaning is not among R's meanings (0 when no sample is correct)."""
    counts = semantic_counts(s.verdicts, s.meanings or [])
    total = sum(counts.values())
    if total == 0:
        return 0.0
    reference = s.reference_meanings or frozenset()
    return sum(c for m, c in counts.items() if m not in reference) / total


def rarefied_richness(counts: Counter[str] | Sequence[int], k: int) -> float | None:
    """Expected number of distinct kinds in a uniform random subsample of ``k`` of the N items, without replacement:
    Σ_i [1 − C(N − N_i, k) / C(N, k)] (Hurlbert 1971; Sanders 1968), exact (integer binomials). ``None`` when
    fewer than ``k`` items exist, where the subsample is undefined."""
    sizes = list(counts.values()) if isinstance(counts, Counter) else list(counts)
    total = sum(sizes)
    if k < 1 or total < k:
        return None
    denominator = math.comb(total, k)
    return math.fsum(1.0 - math.comb(total - n, k) / denominator for n in sizes if n > 0)


def shannon_entropy_bits(counts: Counter[str]) -> float:
    """Shannon entropy, in bits, of the distribution given by ``counts`` (0 for no counts)."""
    total = sum(counts.values())
    if total == 0:
        return 0.0
    return -math.fsum(c / total * math.log2(c / total) for c in counts.values())


def gini_simpson(samples: Sequence[str]) -> float:
    """Gini–Simpson index 1 − Σ p_i² of the sample strings' empirical distribution (0 for no samples).

    Under pure resampling (a Wright–Fisher process with N items) its expectation decays by exactly (1 − 1/N) per
    generation, which is the closed form the oracle test checks the harness against.
    """
    n = len(samples)
    if n == 0:
        return 0.0
    return 1.0 - math.fsum((c / n) ** 2 for c in Counter(samples).values())


# ---------------------------------------------------------------------------------------------
# Registry and aggregate


@dataclass(frozen=True)
class ScoreInput:
    """Everything a metric may look at for one generation's samples, each sample analysed once.

    ``verdicts`` and ``depths`` are per sample (same order as ``samples``), computed once by the caller so that no
    metric parses a sample again. ``meanings`` is per sample for tasks that define a meaning key, else ``None``.
    """

    samples: list[str]
    verdicts: list[str] | None  # None for tasks without verdicts (text): no correct/incorrect/invalid shares
    depths: list[int | None]
    reference: Sequence[str] | None = None
    training: Sequence[str] | None = None
    meanings: list[str | None] | None = None
    reference_meanings: frozenset[str] | None = None
    trivial: list[bool] | None = None  # per sample, for tasks that define trivial correct samples
    semantic_k: int | None = None  # k of semantic_unique_at_k


@dataclass(frozen=True)
class Metric:
    """One number per generation: its name, direction and meaning, declared once.

    ``higher_is_better`` is the only place a direction is stated: the store, the leaderboard and ``bench check`` read
    it from here. ``compute`` returns the value from a ``ScoreInput``, or ``None`` when its inputs are absent (e.g.
    novelty without a reference); it is ``None`` for numbers the loop or the learner measures itself (``val_loss``,
    composition shares, ``real_nll``), which are declared here only for their direction and meaning.
    """

    name: str
    higher_is_better: bool | None
    description: str
    compute: Callable[[ScoreInput], float | None] | None = field(default=None, compare=False, repr=False)


METRICS: Registry[Metric] = Registry("metric", "metrics")


def metric(name: str, higher_is_better: bool | None, description: str) -> Callable[[Callable], Callable]:
    """Decorator registering a metric function of a ``ScoreInput``: ``@metric("unique_count", True, "...")``."""

    def decorate(compute: Callable[[ScoreInput], float | None]) -> Callable[[ScoreInput], float | None]:
        METRICS.add(name, Metric(name, higher_is_better, description, compute))
        return compute

    return decorate


def declare(name: str, higher_is_better: bool | None, description: str) -> None:
    """Declare a number that is measured outside the sample metrics (its direction and meaning only)."""
    METRICS.add(name, Metric(name, higher_is_better, description))


def higher_is_better(name: str) -> bool | None:
    """The declared direction of a metric; unknown names raise ``UnknownNameError`` (never a guessed default)."""
    return METRICS.get(name).higher_is_better


def _share(label: str) -> Callable[[ScoreInput], float | None]:
    return lambda s: None if s.verdicts is None else verdict_shares(s.verdicts)[label]


def _distinct(n: int) -> Callable[[ScoreInput], float]:
    return lambda s: distinct_n(s.samples, n)


def _valid_depths(s: ScoreInput) -> tuple[float | None, float | None]:
    # No valid sample has no depth: undefined (None, left out of the scores), not a mean of 0.
    depths = [d for d in s.depths if d is not None]
    return _mean_var(depths) if depths else (None, None)


metric("n", None, "number of samples scored")(lambda s: float(len(s.samples)))
metric("correct", True, "share of samples that are well-formed and true")(_share("correct"))
metric("incorrect", False, "share of samples that are well-formed and false")(_share("incorrect"))
metric("invalid", False, "share of samples that are not well-formed")(_share("invalid"))
metric("diversity_levenshtein", True, "mean token-level Levenshtein distance / longer length over all sample pairs")(
    lambda s: diversity_levenshtein(s.samples)
)
metric("unique_count", True, "number of distinct samples")(lambda s: float(unique_count(s.samples)))
metric("unique_ratio", True, "distinct samples / samples")(lambda s: unique_ratio(s.samples))
for _n in range(1, 5):  # distinct_1 .. distinct_4
    metric(f"distinct_{_n}", True, f"unique token {_n}-grams / all {_n}-grams within samples")(_distinct(_n))
del _n
metric("compression_ratio", False, "gzip ratio of the joined samples (diversity 0.3.1); higher = more repetitive")(
    lambda s: compression_ratio(s.samples)
)
metric("ngram_diversity", True, "sum over n=1..4 of unique/all n-grams of the joined samples (diversity 0.3.1)")(
    lambda s: ngram_diversity(s.samples)
)
metric("length_mean", None, "mean tokens per sample")(lambda s: length_stats(s.samples)[0])
metric("length_var", None, "population variance of tokens per sample")(lambda s: length_stats(s.samples)[1])
metric("depth_mean", None, "mean depth of valid samples")(lambda s: None if s.verdicts is None else _valid_depths(s)[0])
metric("depth_var", None, "population variance of the depth of valid samples")(
    lambda s: None if s.verdicts is None else _valid_depths(s)[1]
)
metric("novelty", True, "share of samples not in the real data R")(
    lambda s: None if s.reference is None else novelty(s.samples, s.reference)
)
metric("js_divergence_length", False, "Jensen-Shannon divergence (base 2) of sample lengths vs the real data R")(
    lambda s: None if s.reference is None else js_divergence_lengths(s.samples, s.reference)
)
metric("memorized", False, "share of samples found verbatim in this generation's training set")(
    lambda s: None if s.training is None else memorized(s.samples, s.training)
)
metric("trivial_share", False, "share of samples that are trivially correct identities (x = x; left side canonical)")(
    lambda s: None if s.trivial is None else sum(s.trivial) / len(s.samples) if s.samples else 0.0
)
metric(
    "semantic_unique_at_k",
    True,
    "expected distinct meanings among k non-trivial correct samples (exact rarefaction; k = the task's semantic_k)",
)(
    lambda s: (
        None
        if s.meanings is None or s.semantic_k is None
        else rarefied_richness(semantic_counts(s.verdicts, s.meanings), s.semantic_k)
    )
)
metric("semantic_unique", True, "distinct meanings among correct samples (tasks with a meaning key)")(
    lambda s: None if s.meanings is None else float(len(semantic_counts(s.verdicts, s.meanings)))
)
metric(
    "semantic_entropy", True, "Shannon entropy (bits) of the meanings of correct samples (tasks with a meaning key)"
)(lambda s: None if s.meanings is None else shannon_entropy_bits(semantic_counts(s.verdicts, s.meanings)))
metric("semantic_novelty", True, "share of correct samples whose meaning is not in the real data R")(
    lambda s: None if s.meanings is None or s.reference_meanings is None else semantic_novelty(s)
)
metric(
    "simpson_diversity",
    True,
    "Gini-Simpson index 1 - sum p_i^2 of the sample strings (x (1-1/N) per generation under pure resampling)",
)(lambda s: gini_simpson(s.samples))


# Numbers the loop and the learner measure themselves: declared for their direction and meaning.
declare("val_loss", False, "best validation loss (mean per-token NLL) of this generation's training")
declare("kept_share", None, "share of samples the mitigations kept")
declare("data_size", None, "size of this generation's data set T_g")
declare("data_real_share", None, "share of T_g that is generation 0's real data R")
declare("data_fresh_share", None, "share of T_g that is fresh real data")
declare("data_synthetic_share", None, "share of T_g that is model output")
declare("real_nll", False, "mean per-token NLL (nats) of the held-out real test set T* under this generation's model")
declare("real_ppl", False, "perplexity exp(real_nll) of the held-out real test set T*")
declare("real_nll_seen", False, "real_nll on the items of T* whose string is in R (verifiable tasks)")
declare("real_nll_unseen", False, "real_nll on the items of T* whose string is not in R (verifiable tasks)")
declare(
    "epochs_trained",
    None,
    "passes over the training blocks this generation's fit made (steps x blocks per step / blocks): a budget, no "
    "direction",
)
# Text (bench/text/metrics.py): measured with the suite's fixed scorers and a seed, so the loop computes them.
declare("sample_ppl_ref_mean", None, "mean perplexity of the samples' new text given their prompts, reference model")
for _q in (5, 50, 95):
    declare(f"sample_ppl_ref_p{_q}", None, f"{_q}th percentile of the samples' perplexity under the reference model")
del _q
declare("empty_share", False, "share of samples with nothing but white space (counted, never scored) (text)")
declare("self_bleu", False, "mean sacrebleu sentence BLEU/100 of a seeded 100-sample subsample against itself (text)")
declare("mauve", True, "MAUVE of samples vs true continuations of test prompts, fixed featurizer, 5 k-means seeds")
declare("mauve_sd", None, "standard deviation of MAUVE over its 5 k-means seeds (text)")


def score_samples(
    samples: list[str],
    verdicts: list[str] | None,
    depths: Sequence[int | None],
    reference: Sequence[str] | None = None,
    training: Sequence[str] | None = None,
    meanings: Sequence[str | None] | None = None,
    reference_meanings: frozenset[str] | None = None,
    exclude: frozenset[str] = frozenset(),
    trivial: Sequence[bool] | None = None,
    semantic_k: int | None = None,
) -> dict[str, float]:
    """Every registered sample metric of one generation's samples, ``n`` first, then by name.

    ``trivial`` marks trivially correct samples (tasks that define them): they are counted in ``trivial_share``
    and their meanings are left out, so the semantic metrics count only non-trivial correct samples.

    ``verdicts`` and ``depths`` are the labels and depths of ``samples`` (same order and length). ``novelty`` and
    ``js_divergence_length`` appear only with a ``reference``, ``memorized`` only with ``training``, the semantic
    metrics only with ``meanings``. Metrics named in ``exclude`` are not computed (``bench score`` estimates the
    quadratic ``diversity_levenshtein`` instead on large inputs).
    """
    if verdicts is not None and len(verdicts) != len(samples):
        raise ValueError(f"{len(samples)} samples but {len(verdicts)} verdicts")
    if len(depths) != len(samples):
        raise ValueError(f"{len(samples)} samples but {len(depths)} depths")
    if trivial is not None and len(trivial) != len(samples):
        raise ValueError(f"{len(samples)} samples but {len(trivial)} trivial flags")
    if meanings is not None and trivial is not None:
        meanings = [None if flag else m for m, flag in zip(meanings, trivial, strict=True)]
    data = ScoreInput(
        list(samples),
        None if verdicts is None else list(verdicts),
        list(depths),
        reference,
        training,
        None if meanings is None else list(meanings),
        reference_meanings,
        None if trivial is None else [bool(t) for t in trivial],
        semantic_k,
    )
    out: dict[str, float] = {}
    for name in sorted(METRICS.names(), key=lambda name: name != "n"):
        entry = METRICS.get(name)
        if entry.compute is None or name in exclude:
            continue
        value = entry.compute(data)
        if value is not None:
            out[name] = float(value)
    return out
