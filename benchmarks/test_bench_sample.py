"""Sampling speed: samples per second of ``bench.learners.transformer.sample.sample`` beside plain Hugging Face
``model.generate``.

Both sides draw from the same model with the same settings: a batch of ``<bos>`` tokens, ``do_sample``,
temperature 0.8, no top-k (``top_k=0`` for ``generate``, whose default would be 50) and no top-p, the same
``max_new_tokens`` (the task's longest sample + 1, as the suites default to) and the same batch size, with
``eos_token_id`` and ``pad_token_id`` set; both return decoded strings, so decoding is timed on both sides.
Rounds alternate (``generate`` as the untimed set-up of each of our rounds, timed by hand), so a change of
load on a shared machine hits both alike; the ratio compares the fastest round of each.

* ``test_sample_vs_hf_generate`` (the headline number): a ``tiny`` model (2 layers, 64 dims) trained for
  ``TINY_TRAIN_STEPS`` steps on logic data inside the benchmark (≈15 s on one CPU thread). An untrained model
  has no idea where a sample ends, so sample lengths would say nothing; the trained one writes samples of the
  data's length (the mean lengths of both sides are in ``extra_info``).
* ``test_sample_vs_hf_generate_paper_untrained``: the ``paper`` preset, untrained, fewer samples. Its tokens
  are near uniform over the 11-token vocabulary, so samples end at ``<eos>`` after ≈10 tokens on average while
  the longest in a batch runs to the limit: the compute-bound case for dropping finished rows.
"""

from __future__ import annotations

import statistics
import time

import pytest
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerFast

from bench.learners.transformer.learner import TransformerConfig
from bench.learners.transformer.model import build_model
from bench.learners.transformer.sample import sample
from bench.settings import SamplingConfig, TrainingConfig
from bench.tasks import get_task
from benchmarks.conftest import fast_mode, measure, sized

TEMPERATURE = 0.8
SEED = 0
TINY_TRAIN_STEPS = sized(150, 10)
TINY_N, TINY_BATCH, TINY_ROUNDS = sized((4000, 1000, 3), (64, 32, 1))
PAPER_N, PAPER_BATCH, PAPER_ROUNDS = sized((256, 256, 2), (16, 16, 1))
PAPER_PRESET = sized("paper", "tiny")  # fast mode exercises the code path, not the paper-size model

pytestmark = pytest.mark.benchmark


def hf_generate(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerFast, n: int, seed: int, max_new_tokens: int, batch: int
) -> list[str]:
    """``n`` samples with plain ``model.generate``, the settings of ``bench.learners.transformer.sample.sample``."""
    device = next(model.parameters()).device
    texts: list[str] = []
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        while len(texts) < n:
            size = min(batch, n - len(texts))
            start = torch.full((size, 1), tokenizer.bos_token_id, dtype=torch.long, device=device)
            out = model.generate(
                input_ids=start,
                attention_mask=torch.ones_like(start),
                do_sample=True,
                temperature=TEMPERATURE,
                top_k=0,  # off, as ours; generate's default would be 50
                top_p=1.0,
                max_new_tokens=max_new_tokens,
                eos_token_id=tokenizer.eos_token_id,
                pad_token_id=tokenizer.pad_token_id,
            )
            # Finished rows are filled with <pad>; skipping special tokens drops <bos>, <eos> and pads.
            texts.extend(tokenizer.batch_decode(out[:, 1:], skip_special_tokens=True))
    return texts


def ours(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerFast, n: int, seed: int, max_new_tokens: int, batch: int
) -> list[str]:
    settings = SamplingConfig(temperature=TEMPERATURE, batch_size=batch)
    return sample(model, tokenizer, n, seed, settings=settings, max_new_tokens=max_new_tokens)


def side_by_side(benchmark, model, tokenizer, n: int, batch: int, rounds: int, synchronize) -> dict:
    """Alternate ``generate`` and ours for ``rounds`` rounds; the texts and times of both."""
    task = get_task("logic")
    max_new_tokens = task.max_tokens() + 1
    hf_times: list[float] = []
    hf_texts: list[str] = []

    def run_hf() -> None:
        synchronize()
        started = time.perf_counter()
        hf_texts[:] = hf_generate(model, tokenizer, n, SEED, max_new_tokens, batch)
        synchronize()
        hf_times.append(time.perf_counter() - started)

    def run_ours() -> list[str]:
        texts = ours(model, tokenizer, n, SEED, max_new_tokens, batch)
        synchronize()
        return texts

    our_texts, _, our_best = measure(benchmark, run_ours, setup=run_hf, rounds=rounds)
    hf_best = min(hf_times)
    assert len(our_texts) == len(hf_texts) == n
    return {
        "n_samples": n,
        "batch_size": batch,
        "max_new_tokens": max_new_tokens,
        "temperature": TEMPERATURE,
        "rounds": rounds,
        "our_seconds_min": our_best,
        "hf_seconds_min": hf_best,
        "our_samples_per_s": n / our_best,
        "hf_samples_per_s": n / hf_best,
        "sample_vs_hf_generate": hf_best / our_best,
        **describe("our", our_texts, task),
        **describe("hf", hf_texts, task),
    }


def describe(side: str, texts: list[str], task) -> dict:
    """Length and correctness of one side's samples: evidence that both sides sampled the same thing."""
    lengths = [len(t.split()) for t in texts]
    return {
        f"{side}_mean_tokens": statistics.fmean(lengths),
        f"{side}_max_tokens": max(lengths),
        f"{side}_correct_share": sum(task.verify(t).label == "correct" for t in texts) / len(texts),
    }


@pytest.fixture(scope="module")
def tokenizer() -> PreTrainedTokenizerFast:
    return get_task("logic").build_tokenizer()


@pytest.fixture(scope="module")
def trained_tiny(tokenizer, device: torch.device) -> PreTrainedModel:
    """A tiny model trained briefly on logic data, so that it ends samples where the data does."""
    from bench.learners.transformer.train import train

    task = get_task("logic")
    model = build_model(TransformerConfig(preset="tiny"), tokenizer, 256, SEED)
    settings = TrainingConfig(
        max_iters=TINY_TRAIN_STEPS,
        batch_size=8,
        block_size=256,
        learning_rate=3e-3,
        warmup_iters=10,
        eval_interval=TINY_TRAIN_STEPS,
    )
    train(model, tokenizer, task.generate(sized(3000, 200), SEED), task.generate(100, SEED + 1), settings, SEED)
    return model.to(device).eval()


def test_sample_vs_hf_generate(benchmark, trained_tiny, tokenizer, device_info, synchronize) -> None:
    info = side_by_side(benchmark, trained_tiny, tokenizer, TINY_N, TINY_BATCH, TINY_ROUNDS, synchronize)
    benchmark.extra_info.update(device_info, preset="tiny", train_steps=TINY_TRAIN_STEPS, **info)
    if fast_mode():
        return  # a few dozen samples of a barely trained model: too few to compare the two samplers' output
    # Same model, same settings: the two samplers must agree on what they draw, within sampling noise.
    assert abs(info["our_mean_tokens"] - info["hf_mean_tokens"]) < 1.0
    assert abs(info["our_correct_share"] - info["hf_correct_share"]) < 0.05


def test_sample_vs_hf_generate_paper_untrained(benchmark, tokenizer, device, device_info, synchronize) -> None:
    model = build_model(TransformerConfig(preset=PAPER_PRESET), tokenizer, 256, SEED).to(device).eval()
    info = side_by_side(benchmark, model, tokenizer, PAPER_N, PAPER_BATCH, PAPER_ROUNDS, synchronize)
    info["sample_vs_hf_generate_paper_untrained"] = info.pop("sample_vs_hf_generate")
    benchmark.extra_info.update(device_info, preset=PAPER_PRESET, train_steps=0, **info)
    if not fast_mode():
        assert abs(info["our_mean_tokens"] - info["hf_mean_tokens"]) < 3.0
