"""Metrics of free text that need a model or a seed: perplexity under the generation-0 model, self-BLEU, MAUVE.

The pure sample metrics (distinct-n, compression ratio, n-gram diversity) are in ``bench.metrics`` and apply to
text as they are; the numbers here are declared there too (with their direction) and measured by the loop:

- ``sample_ppl_ref_*``: each sample's perplexity exp(mean token NLL of ``<bos> sample <eos>``) under generation 0's
  model, summarised by its mean and 5th/50th/95th percentiles (Shumailov et al., Nature 2024, Fig. 1 plots its
  histogram: later generations' samples grow more probable under the original model, and its tail thins);
- ``self_bleu``: BLEU (sacrebleu, smoothed sentence BLEU) of each sample of a seeded subsample against the rest of
  the subsample, averaged and scaled to [0, 1] (Zhu et al. 2018, Texygen); higher = more alike;
- ``mauve``: MAUVE (Pillutla et al. 2021, the ``mauve-text`` package) between the held-out real test part and the
  samples, on features of generation 0's model: the last layer's hidden state at each text's last token (what
  ``mauve-text`` itself takes from GPT-2 large, which we may not download).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from bench.learners.transformer import TransformerLearner

SELF_BLEU_SAMPLES = 100  # sentence BLEU against k-1 references costs O(k^2) n-gram work; 100 keeps it to a second
PERCENTILES = (5, 50, 95)


def perplexity_summary(nlls: Sequence[float]) -> dict[str, float]:
    """Mean and 5th/50th/95th percentiles (numpy's linear interpolation) of the perplexities exp(nll)."""
    if not nlls:
        return {}
    values = np.exp(np.minimum(np.asarray(nlls, dtype=np.float64), 700.0))  # exp overflows past ~709
    out = {"sample_ppl_ref_mean": float(values.mean())}
    for q in PERCENTILES:
        out[f"sample_ppl_ref_p{q}"] = float(np.percentile(values, q))
    return out


def self_bleu(samples: Sequence[str], seed: int, size: int = SELF_BLEU_SAMPLES) -> float | None:
    """Mean sentence BLEU / 100 of each sample of a seeded subsample against the others (``None`` below 2)."""
    from sacrebleu.metrics import BLEU

    if len(samples) < 2:
        return None
    chosen = random.Random(seed).sample(list(samples), min(size, len(samples)))
    bleu = BLEU(effective_order=True)  # sacrebleu's sentence-level settings (exp smoothing, 13a tokenizer)
    scores = [
        bleu.sentence_score(hypothesis, chosen[:i] + chosen[i + 1 :]).score for i, hypothesis in enumerate(chosen)
    ]
    return math.fsum(scores) / len(scores) / 100.0


def last_token_features(learner: TransformerLearner, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
    """The last layer's hidden state at the last token of ``<bos> text``, one row per text (float32)."""
    import torch

    tokenizer = learner.tokenizer
    limit = learner.setup.training.block_size - 1
    encoded = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
    sequences = [[tokenizer.bos_token_id, *ids[:limit]] for ids in encoded]
    model = learner.model
    device = next(model.parameters()).device
    rows: list[np.ndarray] = []
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(sequences), batch_size):
            batch = sequences[start : start + batch_size]
            width = max(len(s) for s in batch)
            ids = torch.tensor([s + [tokenizer.pad_token_id] * (width - len(s)) for s in batch], device=device)
            mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in batch], device=device)
            hidden = model(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states[-1]
            last = torch.tensor([len(s) - 1 for s in batch], device=device)
            rows.append(hidden[torch.arange(len(batch), device=device), last].float().cpu().numpy())
    model.train(was_training)
    return np.concatenate(rows)


def mauve_score(real: np.ndarray, generated: np.ndarray, seed: int) -> float:
    """MAUVE of the real (P) and generated (Q) feature rows with ``mauve-text``'s defaults (buckets = n/10)."""
    import mauve

    from bench.native_stderr import native_stderr_silenced

    seed %= 2**31  # faiss k-means takes a signed 32-bit seed
    with native_stderr_silenced():  # faiss's unconditional "WARNING clustering ..." on small sets
        return float(mauve.compute_mauve(p_features=real, q_features=generated, seed=seed, verbose=False).mauve)


def text_metrics(
    reference: TransformerLearner, samples: list[str], test: list[str], seed: int
) -> tuple[dict[str, float], list[float]]:
    """The model-based text metrics of one generation's samples, and each sample's perplexity under ``reference``
    (generation 0's learner); ``seed`` drives the self-BLEU subsample and MAUVE's k-means."""
    nlls = reference.nll_each(samples)
    out = perplexity_summary(nlls)
    bleu = self_bleu(samples, seed)
    if bleu is not None:
        out["self_bleu"] = bleu
    if len(samples) >= 2 and len(test) >= 2:
        features = last_token_features(reference, test + samples)
        out["mauve"] = mauve_score(features[: len(test)], features[len(test) :], seed)
    return out, [math.exp(min(v, 700.0)) for v in nlls]
