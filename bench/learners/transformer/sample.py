"""Unconditional sampling from ``<bos>``: batched, with the KV cache, seeded, on any device.

Samples end at ``<eos>``. Finished rows leave the batch (their cache rows are dropped), so a batch costs what
its live samples cost, not what its longest sample costs: logic samples average ≈12 tokens but reach ≈40.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
from transformers import DynamicCache, PreTrainedModel, PreTrainedTokenizerFast

if TYPE_CHECKING:
    from bench.settings import SamplingConfig


def filter_logits(logits: torch.Tensor, top_k: int | None, top_p: float | None) -> torch.Tensor:
    """Mask logits outside the top-k tokens and outside the smallest set holding ``top_p`` of the mass."""
    if top_k is not None and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
        cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
        # Drop a token when the mass before it already reaches top_p (the first token always stays).
        drop_sorted = (cumulative - sorted_logits.softmax(dim=-1)) >= top_p
        drop = drop_sorted.scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


@torch.inference_mode()
def sample_batch(
    model: PreTrainedModel,
    batch_size: int,
    bos_id: int,
    eos_id: int,
    max_new_tokens: int,
    temperature: float,
    top_k: int | None,
    top_p: float | None,
    generator: torch.Generator,
) -> list[list[int]]:
    """Token ids of ``batch_size`` samples (without ``<bos>``/``<eos>``); a sample hitting the limit is cut."""
    device = next(model.parameters()).device
    tokens = torch.full((batch_size, 1), bos_id, dtype=torch.long, device=device)
    alive = torch.arange(batch_size, device=device)  # original row of each live sequence
    outputs: list[list[int]] = [[] for _ in range(batch_size)]
    cache = DynamicCache()
    position = 0
    for _ in range(max_new_tokens):
        positions = torch.full_like(tokens, position)
        logits = model(input_ids=tokens, position_ids=positions, past_key_values=cache, use_cache=True).logits
        logits = filter_logits(logits[:, -1, :].float() / temperature, top_k, top_p)
        chosen = torch.multinomial(logits.softmax(dim=-1), 1, generator=generator)
        chosen_list = chosen.squeeze(1).tolist()
        rows = alive.tolist()
        keep: list[int] = []
        for i, (row, token) in enumerate(zip(rows, chosen_list, strict=True)):
            if token == eos_id:
                continue
            outputs[row].append(token)
            keep.append(i)
        if not keep:
            break
        if len(keep) < len(rows):
            keep_index = torch.tensor(keep, device=device)
            cache.batch_select_indices(keep_index)
            alive = alive[keep_index]
            chosen = chosen[keep_index]
        tokens = chosen
        position += 1
    return outputs


def sample(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerFast,
    n: int,
    seed: int,
    settings: SamplingConfig,
    max_new_tokens: int = 64,
    progress: Callable[[int], None] | None = None,
) -> list[str]:
    """``n`` decoded samples: tokens joined by single spaces, special tokens removed.

    ``settings`` gives temperature, top-k, top-p and the batch size; its ``max_new_tokens`` wins over the
    ``max_new_tokens`` argument, which is the task's bound when the suite sets none.
    """
    temperature = settings.temperature  # > 0: the schema bounds it
    max_new_tokens = settings.max_new_tokens or max_new_tokens
    device = next(model.parameters()).device
    generator = torch.Generator(device=device)
    generator.manual_seed(seed)
    was_training = model.training
    model.eval()
    texts: list[str] = []
    while len(texts) < n:
        size = min(settings.batch_size, n - len(texts))
        ids = sample_batch(
            model,
            size,
            tokenizer.bos_token_id,
            tokenizer.eos_token_id,
            max_new_tokens,
            temperature,
            settings.top_k,
            settings.top_p,
            generator,
        )
        texts.extend(decode(tokenizer, row) for row in ids)
        if progress is not None:
            progress(size)
    model.train(was_training)
    return texts


def decode(tokenizer: PreTrainedTokenizerFast, ids: list[int]) -> str:
    """Tokens joined by single spaces; special tokens (a stray <bos>, <pad>) dropped."""
    return " ".join(tokenizer.convert_ids_to_tokens(ids, skip_special_tokens=True))
