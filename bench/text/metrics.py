"""Metrics of free text that need a model or a seed: perplexity under a reference model, self-BLEU, MAUVE.

The pure sample metrics (distinct-n, compression ratio, n-gram diversity) are in ``bench.metrics`` and apply to
text as they are; the numbers here are declared there too (with their direction) and measured by the loop:

- ``sample_ppl_ref_*``: each sample's perplexity exp(mean NLL of its new tokens given ``<bos> prompt``) under the
  reference scorer (generation 0's model, or the suite's ``metrics.reference_model``), summarised by its mean and
  5th/50th/95th percentiles (Shumailov et al., Nature 2024, Fig. 1 plots its histogram: later generations' samples
  grow more probable under the original model, and its tail thins). A free-mode sample has no prompt and is scored
  as ``<bos> sample <eos>``. Empty samples (nothing but white space) are counted in ``empty_share`` and never
  scored: a perplexity of no tokens is undefined;
- ``self_bleu``: BLEU (sacrebleu, smoothed sentence BLEU) of each sample of a seeded subsample against the rest of
  the subsample, averaged and scaled to [0, 1] (Zhu et al. 2018, Texygen); higher = more alike;
- ``mauve``, ``mauve_sd``: MAUVE (Pillutla et al. 2021, the ``mauve-text`` package) between P, the true
  continuations of held-out prompts of the test documents (the samples' length budget), and Q, as many samples;
  mean and standard deviation over ``MAUVE_SEEDS`` k-means seeds. Features come from one fixed featurizer for the
  whole suite (the pretrained model at its original weights, or ``metrics.features``), never the generation's own
  model: the last layer's hidden state at each text's last token (what ``mauve-text`` takes from GPT-2 large).
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerFast

SELF_BLEU_SAMPLES = 100  # sentence BLEU against k-1 references costs O(k^2) n-gram work; 100 keeps it to a second
PERCENTILES = (5, 50, 95)
MAUVE_SEEDS = 5
MAUVE_POINTS_PER_CLUSTER = 10  # mauve-text's default quantization: n / 10 k-means clusters
MAUVE_MIN_CLUSTERS = 5
MAUVE_MIN_TEXTS = MAUVE_POINTS_PER_CLUSTER * MAUVE_MIN_CLUSTERS


class TextMetricsError(ValueError):
    """Inputs the text metrics cannot score; one line naming the problem."""


def check_mauve_size(n: int, what: str = "MAUVE") -> None:
    """Refuse sizes too small for mauve-text's n/10 clusters: fewer than 5 clusters of 10 texts is noise."""
    if n < MAUVE_MIN_TEXTS:
        raise TextMetricsError(
            f"{what}: {n} texts a side is too few for MAUVE's k-means (at least {MAUVE_MIN_TEXTS}: "
            f"{MAUVE_MIN_CLUSTERS} clusters of {MAUVE_POINTS_PER_CLUSTER}, mauve-text's n/10 rule)"
        )


@dataclass
class ScoringModel:
    """A causal LM with its tokenizer, used only to score or featurize text (never trained here)."""

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerFast
    batch_size: int = 32

    @classmethod
    def load(cls, folder: str | Path) -> ScoringModel:
        """A local ``save_pretrained`` folder (safetensors, no remote code, nothing downloaded), in eval mode."""
        from transformers import AutoModelForCausalLM

        from bench.tasks.text import load_tokenizer

        model = AutoModelForCausalLM.from_pretrained(
            folder, use_safetensors=True, local_files_only=True, trust_remote_code=False
        )
        return cls(model.eval(), load_tokenizer(folder))

    def _context(self) -> int:
        config = self.model.config
        return int(getattr(config, "n_positions", None) or getattr(config, "max_position_embeddings", 1024))

    def conditional_nll(self, prompts: Sequence[str] | None, texts: Sequence[str]) -> list[float]:
        """Mean NLL (nats per token) of each text's tokens given ``<bos> prompt`` (``prompts=None``: scored as
        ``<bos> text <eos>``, the eos included). Texts are cut to fit the model's context."""
        import torch

        tok = self.tokenizer
        bodies = tok(list(texts), add_special_tokens=False)["input_ids"]
        heads = tok(list(prompts), add_special_tokens=False)["input_ids"] if prompts is not None else None
        limit = self._context()
        sequences: list[tuple[list[int], int]] = []  # (ids, index of the first scored token)
        for i, body in enumerate(bodies):
            if heads is None:
                ids = [tok.bos_token_id, *body, tok.eos_token_id][:limit]
                sequences.append((ids, 1))
            else:
                head = [tok.bos_token_id, *heads[i]][: limit - 1]
                sequences.append(([*head, *body][:limit], len(head)))
        device = next(self.model.parameters()).device
        out: list[float] = []
        was_training = self.model.training
        self.model.eval()
        with torch.inference_mode():
            for start in range(0, len(sequences), self.batch_size):
                batch = sequences[start : start + self.batch_size]
                width = max(len(s) for s, _ in batch)
                pad = tok.pad_token_id
                ids = torch.tensor([s + [pad] * (width - len(s)) for s, _ in batch], device=device)
                mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s, _ in batch], device=device)
                scored = torch.tensor(
                    [[1.0 if first <= t < len(s) else 0.0 for t in range(1, width)] for s, first in batch],
                    device=device,
                )  # token t (t >= 1) is predicted from tokens before it
                logits = self.model(input_ids=ids, attention_mask=mask, use_cache=False).logits[:, :-1].float()
                losses = torch.nn.functional.cross_entropy(logits.transpose(1, 2), ids[:, 1:], reduction="none")
                out.extend(((losses * scored).sum(1) / scored.sum(1).clamp(min=1.0)).tolist())
        self.model.train(was_training)
        return out

    def last_token_features(self, texts: Sequence[str]) -> np.ndarray:
        """The last layer's hidden state at the last token of ``<bos> text``, one row per text (float32)."""
        import torch

        tok = self.tokenizer
        limit = self._context()
        encoded = tok(list(texts), add_special_tokens=False)["input_ids"]
        sequences = [[tok.bos_token_id, *ids][:limit] for ids in encoded]
        device = next(self.model.parameters()).device
        rows: list[np.ndarray] = []
        was_training = self.model.training
        self.model.eval()
        with torch.inference_mode():
            for start in range(0, len(sequences), self.batch_size):
                batch = sequences[start : start + self.batch_size]
                width = max(len(s) for s in batch)
                ids = torch.tensor([s + [tok.pad_token_id] * (width - len(s)) for s in batch], device=device)
                mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in batch], device=device)
                hidden = self.model(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states[-1]
                last = torch.tensor([len(s) - 1 for s in batch], device=device)
                rows.append(hidden[torch.arange(len(batch), device=device), last].float().cpu().numpy())
        self.model.train(was_training)
        return np.concatenate(rows)


def is_empty(text: str) -> bool:
    """A sample with nothing but white space: counted, never scored."""
    return not text.strip()


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


def mauve_scores(real: np.ndarray, generated: np.ndarray, seed: int, seeds: int = MAUVE_SEEDS) -> dict[str, float]:
    """MAUVE of P (``real``) and Q (``generated``) feature rows, equal in number, with mauve-text's defaults
    (n/10 clusters), over ``seeds`` k-means seeds derived from ``seed``: their mean and standard deviation."""
    import mauve

    from bench.text.native_stderr import native_stderr_silenced

    if len(real) != len(generated):
        raise TextMetricsError(f"MAUVE compares equal sizes: |P| = {len(real)}, |Q| = {len(generated)}")
    check_mauve_size(len(real))
    with native_stderr_silenced():  # faiss's unconditional "WARNING clustering ..." on small sets
        values = [
            float(
                mauve.compute_mauve(
                    p_features=real, q_features=generated, seed=(seed + k) % 2**31, verbose=False
                ).mauve  # faiss k-means takes a signed 32-bit seed
            )
            for k in range(seeds)
        ]
    return {"mauve": statistics.fmean(values), "mauve_sd": statistics.stdev(values) if seeds > 1 else 0.0}


def text_metrics(
    reference: ScoringModel,
    samples: list[str],
    seed: int,
    prompts: list[str] | None = None,
    featurizer: ScoringModel | None = None,
    mauve_reference: list[str] | None = None,
) -> tuple[dict[str, Any], list[float | None]]:
    """The model-based text metrics of one generation's samples, and each sample's perplexity under ``reference``
    (``None`` for an empty sample). ``prompts``: each sample's prompt (continue mode) to score it conditionally.
    ``mauve_reference``: P, the true continuations; MAUVE compares it with the first ``len(P)`` samples (they are in
    a seeded random order). ``seed`` drives the self-BLEU subsample and MAUVE's k-means."""
    kept = [i for i, text in enumerate(samples) if not is_empty(text)]
    nll_kept = reference.conditional_nll(
        None if prompts is None else [prompts[i] for i in kept], [samples[i] for i in kept]
    )
    out: dict[str, Any] = {"empty_share": (len(samples) - len(kept)) / len(samples) if samples else 0.0}
    out.update(perplexity_summary(nll_kept))
    bleu = self_bleu(samples, seed)
    if bleu is not None:
        out["self_bleu"] = bleu
    if featurizer is not None and mauve_reference:
        m = len(mauve_reference)
        features = featurizer.last_token_features(list(mauve_reference) + samples[:m])
        out.update(mauve_scores(features[:m], features[m:], seed))
    ppl: list[float | None] = [None] * len(samples)
    for i, nll in zip(kept, nll_kept, strict=True):
        ppl[i] = math.exp(min(nll, 700.0))
    return out, ppl
