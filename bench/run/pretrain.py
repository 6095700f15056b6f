"""``bench pretrain``: a small GPT-2 and its byte-level BPE tokenizer trained on a local corpus, offline.

The text task fine-tunes a pretrained model; tests and the CPU suites need one that is present on every machine
without a download. This trains one in seconds to minutes: a byte-level BPE tokenizer (``tokenizers``) on the
corpus's train part, then a GPT-2 of the ``tiny`` (or any) preset on its chunks with the harness's own training code,
and saves both as one ``save_pretrained`` folder (safetensors + tokenizer) that ``model.pretrained`` loads.
The corpus split is the text task's (same ``split_seed``), so the model never sees the test part.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from bench.run.progress import format_duration
from bench.tasks.text import chunk, read_documents, split_documents

SPECIAL_TOKENS = ("<pad>", "<bos>", "<eos>")


@dataclass(frozen=True)
class PretrainSettings:
    vocab_size: int = 2048
    preset: str = "tiny"
    chunk_tokens: int = 64
    steps: int = 300
    batch_size: int = 16
    learning_rate: float = 3e-3
    seed: int = 0
    split_seed: int = 0
    validation_fraction: float = 0.05
    test_fraction: float = 0.05


def train_tokenizer(documents: list[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """A GPT-2-style byte-level BPE tokenizer with ``<pad>``, ``<bos>``, ``<eos>`` (ids 0-2)."""
    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(documents, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        pad_token="<pad>",
        bos_token="<bos>",
        eos_token="<eos>",
        clean_up_tokenization_spaces=False,
    )


def _step_reporter(say: Callable[[str], None], steps: int, every_seconds: float = 10.0) -> Callable[[int, float], None]:
    """A training progress callback that says ``step i/N, loss x, elapsed, left`` at most every ``every_seconds``
    (and at the last step), so a long pretraining is never silent."""
    started = time.perf_counter()
    last = [started]

    def report(iteration: int, loss: float) -> None:
        now = time.perf_counter()
        if now - last[0] < every_seconds and iteration < steps:
            return
        last[0] = now
        elapsed = now - started
        left = elapsed / max(iteration, 1) * max(steps - iteration, 0)
        say(
            f"step {iteration}/{steps}, loss {loss:.3f}, {format_duration(elapsed)} elapsed, "
            f"about {format_duration(left)} left"
        )

    return report


def pretrain(
    corpus: str | Path,
    out: str | Path,
    settings: PretrainSettings = PretrainSettings(),
    say: Callable[[str], None] | None = None,
) -> dict[str, float]:
    """Train and save the tokenizer and model to ``out``; return a summary (also written to ``pretrain.json``).

    ``say`` gets a line at each stage and, during training, every few seconds."""
    say = say or (lambda line: None)
    from bench.learners.transformer.learner import TransformerConfig
    from bench.learners.transformer.model import build_model, count_parameters, save_checkpoint
    from bench.learners.transformer.train import train
    from bench.settings import TrainingConfig

    documents = read_documents(corpus)
    parts = split_documents(documents, settings.validation_fraction, settings.test_fraction, settings.split_seed)
    say(f"read {len(documents):,} documents; training a {settings.vocab_size}-token BPE tokenizer")
    tokenizer = train_tokenizer(parts["train"], settings.vocab_size)
    train_chunks = chunk(parts["train"], tokenizer, settings.chunk_tokens)
    validation_chunks = chunk(parts["validation"], tokenizer, settings.chunk_tokens)
    say(f"tokenizer done; {len(train_chunks):,} training chunks; {settings.steps} optimizer steps to go")
    random.Random(settings.seed).shuffle(validation_chunks)
    block = settings.chunk_tokens + 8  # <bos>, <eos> and a few tokens of re-encoding slack
    training = TrainingConfig(
        max_iters=settings.steps,
        batch_size=settings.batch_size,
        block_size=block,
        learning_rate=settings.learning_rate,
        warmup_iters=min(20, settings.steps),
        eval_interval=max(1, settings.steps // 4),
        patience=100,
        precision="no",
    )
    config = TransformerConfig(preset=settings.preset, context_length=max(128, block))  # room for longer blocks
    model = build_model(config, tokenizer, block, seed=settings.seed)
    fit = train(
        model,
        tokenizer,
        train_chunks,
        validation_chunks[:200],
        training,
        seed=settings.seed,
        progress=_step_reporter(say, settings.steps),
    )
    say(f"training done ({fit.iterations} steps); saving to {out}")
    out = Path(out)
    save_checkpoint(model, tokenizer, out)
    summary = {
        "parameters": count_parameters(model),
        "vocab_size": len(tokenizer),
        "train_chunks": len(train_chunks),
        "steps": fit.iterations,
        "validation_loss": fit.best_val_loss,
        "seconds": round(fit.seconds, 2),
    }
    (out / "pretrain.json").write_text(json.dumps({"corpus": str(corpus), **summary}, indent=2) + "\n")
    return summary
