"""Text sampling with transformers' ``generate``: continuations of real prompts, or free samples from ``<bos>``.

The text task's samples come from the library's own decoding (sampling, beam search, repetition penalty, top-k,
top-p), not from the harness's sampler for short expressions. In ``continue`` mode (Shumailov et al., Nature 2024)
each prompt is ``<bos>`` and the first k tokens of a block of the *original* data R, the model must write exactly
``max_new_tokens`` new tokens (end-of-sequence is suppressed until then, so no sample ends early), and the sample is
the decoded new text only. Prompts are grouped by length, so no batch needs padding (GPT-2's learned positions
would otherwise shift).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import torch
from transformers import GenerationConfig, PreTrainedModel, PreTrainedTokenizerFast

if TYPE_CHECKING:
    from bench.settings import SamplingConfig


def prompt_ids(tokenizer: PreTrainedTokenizerFast, prompts: Sequence[str], k: int) -> list[list[int]]:
    """``<bos>`` followed by the first ``k`` tokens of each prompt text (fewer when the text is shorter)."""
    encoded = tokenizer(list(prompts), add_special_tokens=False)["input_ids"]
    return [[tokenizer.bos_token_id, *ids[:k]] for ids in encoded]


def generation_config(
    tokenizer: PreTrainedTokenizerFast, settings: SamplingConfig, max_new_tokens: int, forced_length: bool = False
):
    """Every decoding setting stated, so that a model folder's own ``generation_config.json`` cannot change it.
    ``forced_length``: ``min_new_tokens = max_new_tokens``, so end-of-sequence cannot be chosen before the end."""
    sampling = {"temperature": settings.temperature, "top_k": settings.top_k or 0, "top_p": settings.top_p or 1.0}
    return GenerationConfig(
        max_new_tokens=max_new_tokens,
        min_new_tokens=max_new_tokens if forced_length else 0,
        do_sample=settings.do_sample,
        num_beams=settings.num_beams,
        repetition_penalty=settings.repetition_penalty,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id,
        **(sampling if settings.do_sample else {}),
    )


@torch.inference_mode()
def generate_texts(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerFast,
    n: int,
    seed: int,
    settings: SamplingConfig,
    max_new_tokens: int,
    prompts: Sequence[str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[str]:
    """``n`` decoded samples, seeded: in continue mode the new text after ``prompts[i]`` (``len(prompts)`` must be
    ``n``), exactly ``max_new_tokens`` tokens long; in free mode a text from ``<bos>`` that may end early."""
    if prompts is not None and len(prompts) != n:
        raise ValueError(f"{n} samples need {n} prompts, got {len(prompts)}")
    inputs = prompt_ids(tokenizer, prompts, settings.prompt_tokens) if prompts else [[tokenizer.bos_token_id]] * n
    config = generation_config(tokenizer, settings, max_new_tokens, forced_length=prompts is not None)
    device = next(model.parameters()).device
    groups: dict[int, list[int]] = {}
    for index, ids in enumerate(inputs):
        groups.setdefault(len(ids), []).append(index)
    outputs: list[str] = [""] * n
    was_training = model.training
    model.eval()
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)  # generate draws from torch's global generator
        for length in sorted(groups):
            rows = groups[length]
            for start in range(0, len(rows), settings.batch_size):
                batch = rows[start : start + settings.batch_size]
                input_ids = torch.tensor([inputs[i] for i in batch], dtype=torch.long, device=device)
                generated = model.generate(
                    input_ids=input_ids, attention_mask=torch.ones_like(input_ids), generation_config=config
                )
                for i, row in zip(batch, generated[:, length:].tolist(), strict=True):
                    if tokenizer.eos_token_id in row:
                        row = row[: row.index(tokenizer.eos_token_id)]
                    outputs[i] = tokenizer.decode(row, skip_special_tokens=True, clean_up_tokenization_spaces=False)
                if progress is not None:
                    progress(len(batch))
    model.train(was_training)
    return outputs
