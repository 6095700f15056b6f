"""Training speed: useful (non-pad) tokens per second of ``bench.learners.transformer.train.train`` beside a bare
PyTorch loop.

Both sides train the same architecture (the ``paper`` preset, 6 layers / 6 heads / 384 dims, same init
seed) on the same logic samples for the same number of optimizer steps, in one process, step by step in turn.

* **bare, padded** (``test_train_vs_bare_torch``) is the loop a user writes first: every step draws a random
  batch of ``BARE_BATCH`` = 64 samples, pads them on the right to the longest one, passes ``attention_mask``
  and labels with -100 on the pads, and takes an AdamW step at the same peak learning rate. No Accelerate,
  no packing, no LR schedule, no gradient clipping, no validation.
* **bare, packed** (``test_train_vs_bare_torch_packed``) is the same plain loop fed exactly our packed blocks
  in our order: equal padding policy, so the ratio is the cost of the harness itself (Accelerate, schedule,
  clipping, the finiteness check, bookkeeping, one final validation pass).
* **ours** packs ``<bos> sample <eos>`` into blocks of ``BLOCK_SIZE`` = 256 tokens, ``OUR_BATCH`` = 4
  blocks a step: a logic sample is ≈14 tokens, so a step sees ≈70 samples, comparable with the bare loop's
  64 (the exact number is in ``extra_info``). Both sides run fp32 (``precision: no``), so a GPU run compares
  the loops, not bf16 against fp32.

Useful tokens count ``<bos>``, the sample's tokens and ``<eos>`` on both sides; ``padded`` counts every
position the model computed. Ours is timed by ``train`` itself (its loop, including one validation pass over
a single block at the end, which counts against us). The two sides alternate step by step (a bare step runs
from ``train``'s progress hook and its time is taken out of ours), so a change of load on a shared machine
hits both sides alike. ``BENCH_TRAIN_STEPS`` sets the number of steps (default 8 on CPU, where a
paper-preset step takes seconds; 30 on CUDA).
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pytest
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerFast

from bench.learners.transformer.learner import TransformerConfig
from bench.learners.transformer.model import build_model
from bench.learners.transformer.train import IGNORE_INDEX, PackedBlocks, batch_schedule, encode_samples, pack, train
from bench.settings import TrainingConfig
from bench.tasks import get_task
from benchmarks.conftest import measure, sized

PRESET = sized("paper", "tiny")
BLOCK_SIZE = 256
OUR_BATCH = 4  # packed blocks per step: 4 x 256 tokens ≈ 70 logic samples
BARE_BATCH = 64  # samples per step in the bare padded loop
LEARNING_RATE = 6e-4
N_TRAIN = sized(4000, 300)
N_VAL = 16  # one validation block: our final validation pass stays a small share of the time
SEED = 0

pytestmark = pytest.mark.benchmark

# One step's tensors (already on the device) and its count of non-pad tokens.
Batch = tuple[dict[str, torch.Tensor], int]


def train_steps(device: torch.device) -> int:
    """Optimizer steps per side: ``BENCH_TRAIN_STEPS``, else 30 on CUDA and 8 on CPU."""
    default = sized(30 if device.type == "cuda" else 8, 2)
    return int(os.environ.get("BENCH_TRAIN_STEPS", default))


@dataclass
class Throughput:
    """Tokens a loop processed and the wall-clock seconds it took."""

    steps: int = 0
    useful_tokens: int = 0
    padded_tokens: int = 0
    seconds: float = 0.0

    @property
    def useful_per_second(self) -> float:
        return self.useful_tokens / self.seconds if self.seconds > 0 else 0.0

    @property
    def useful_share(self) -> float:
        return self.useful_tokens / self.padded_tokens if self.padded_tokens else 0.0


def padded_batches(
    sequences: Sequence[Sequence[int]], batch_size: int, pad_id: int, seed: int, device: torch.device
) -> Callable[[], Batch]:
    """Random samples padded on the right to the longest in the batch, with attention mask and -100 labels."""
    rng = random.Random(seed)

    def next_batch() -> Batch:
        chosen = rng.sample(list(sequences), batch_size)
        longest = max(len(s) for s in chosen)
        input_ids = torch.tensor([[*s, *[pad_id] * (longest - len(s))] for s in chosen], dtype=torch.long)
        attention_mask = torch.tensor([[1] * len(s) + [0] * (longest - len(s)) for s in chosen], dtype=torch.long)
        labels = input_ids.masked_fill(attention_mask == 0, IGNORE_INDEX)
        tensors = {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}
        return {k: v.to(device) for k, v in tensors.items()}, int(attention_mask.sum())

    return next_batch


def packed_batches(
    blocks: PackedBlocks, batch_size: int, steps: int, seed: int, pad_id: int, device: torch.device
) -> Callable[[], Batch]:
    """Our packed blocks in our order (``batch_schedule`` with our seed), for the equal-padding comparison."""
    schedule = iter(batch_schedule(len(blocks), batch_size, steps, seed))

    def next_batch() -> Batch:
        index = torch.tensor(next(schedule))
        input_ids = blocks.input_ids[index]
        tensors = {
            "input_ids": input_ids,
            "position_ids": blocks.position_ids[index],  # restart per sample: the block-diagonal mask
            "labels": blocks.labels[index],
        }
        # use_cache=False as in train(): with a cache object transformers skips the packed mask.
        batch = {k: v.to(device) for k, v in tensors.items()}
        return {**batch, "use_cache": False}, int((input_ids != pad_id).sum())  # type: ignore[dict-item]

    return next_batch


class BareLoop:
    """A plain PyTorch training loop: forward, backward, AdamW step; nothing else."""

    def __init__(
        self, model: PreTrainedModel, next_batch: Callable[[], Batch], device: torch.device, sync: Callable
    ) -> None:
        self.model = model.to(device)
        self.next_batch = next_batch
        self.sync = sync
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE)
        self.total = Throughput()

    def run(self, steps: int) -> None:
        """``steps`` more optimizer steps; adds their tokens and time to ``self.total``."""
        self.model.train()
        self.sync()
        started = time.perf_counter()
        for _ in range(steps):
            batch, useful = self.next_batch()
            loss = self.model(**batch).loss
            loss.backward()
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
            self.total.useful_tokens += useful
            self.total.padded_tokens += batch["input_ids"].numel()
        self.sync()
        self.total.seconds += time.perf_counter() - started
        self.total.steps += steps


@dataclass(frozen=True)
class TrainData:
    tokenizer: PreTrainedTokenizerFast
    train_texts: list[str]
    val_texts: list[str]
    sequences: list[list[int]]  # <bos> tokens <eos> per training sample


@pytest.fixture(scope="module")
def data() -> TrainData:
    task = get_task("logic")
    tokenizer = task.build_tokenizer()
    train_texts = task.generate(N_TRAIN, SEED)
    val_texts = task.generate(N_VAL, SEED + 1)
    return TrainData(tokenizer, train_texts, val_texts, encode_samples(train_texts, tokenizer))


def fresh_model(data: TrainData) -> PreTrainedModel:
    """The paper preset with the same initial weights every time."""
    return build_model(TransformerConfig(preset=PRESET), data.tokenizer, BLOCK_SIZE, SEED)


@pytest.fixture(scope="module")
def warmed_up(data: TrainData, device: torch.device, synchronize) -> None:
    """One throwaway step of each kind first, so library start-up costs land on neither side."""
    for make in (
        padded_batches(data.sequences, BARE_BATCH, data.tokenizer.pad_token_id, SEED, device),
        packed_batches(
            pack(data.sequences, BLOCK_SIZE, data.tokenizer.pad_token_id),
            OUR_BATCH,
            1,
            SEED,
            data.tokenizer.pad_token_id,
            device,
        ),
    ):
        BareLoop(fresh_model(data), make, device, synchronize).run(1)


def settings(steps: int) -> TrainingConfig:
    """Our training settings: fp32, no early stop, a single validation at the end."""
    return TrainingConfig(
        max_iters=steps,
        batch_size=OUR_BATCH,
        block_size=BLOCK_SIZE,
        learning_rate=LEARNING_RATE,
        warmup_iters=min(2, steps),
        eval_interval=steps,
        precision="no",
    )


def side_by_side(data: TrainData, bare: BareLoop, steps: int) -> Throughput:
    """Ours, with one bare step run after each of our steps (from ``train``'s progress hook); ours as a Throughput.

    Interleaving step by step means a change of load on a shared machine hits both sides alike. The bare
    steps' time is taken back out of ``train``'s own clock.
    """
    bare_before = bare.total.seconds
    result = train(
        fresh_model(data),
        data.tokenizer,
        data.train_texts,
        data.val_texts,
        settings(steps),
        SEED,
        progress=lambda iteration, loss: bare.run(1),
    )
    seconds = result.seconds - (bare.total.seconds - bare_before)
    return Throughput(result.iterations, result.useful_tokens, result.padded_tokens, seconds)


def record(benchmark, name: str, ours: Throughput, bare: Throughput, data: TrainData, info: dict) -> None:
    blocks = len(pack(data.sequences, BLOCK_SIZE, data.tokenizer.pad_token_id))
    benchmark.extra_info.update(
        info,
        preset=PRESET,
        steps=ours.steps,
        our_batch_blocks=OUR_BATCH,
        block_size=BLOCK_SIZE,
        our_samples_per_step=round(OUR_BATCH * len(data.sequences) / blocks, 1),
        our_seconds=ours.seconds,
        our_useful_tokens=ours.useful_tokens,
        our_useful_share=ours.useful_share,
        our_useful_tokens_per_s=ours.useful_per_second,
        bare_seconds=bare.seconds,
        bare_useful_tokens=bare.useful_tokens,
        bare_useful_share=bare.useful_share,
        bare_useful_tokens_per_s=bare.useful_per_second,
        **{name: ours.useful_per_second / bare.useful_per_second},
    )


def test_train_vs_bare_torch(benchmark, data: TrainData, device, device_info, synchronize, warmed_up) -> None:
    """Ours (packed) against a naive padded loop of 64 random samples a step."""
    steps = train_steps(device)
    pad_id = data.tokenizer.pad_token_id
    bare = BareLoop(
        fresh_model(data),
        padded_batches(data.sequences, BARE_BATCH, pad_id, SEED, device),
        device,
        synchronize,
    )
    ours, _, _ = measure(benchmark, side_by_side, args=(data, bare, steps))
    record(
        benchmark,
        "train_vs_bare_torch",
        ours,
        bare.total,
        data,
        {**device_info, "bare_batch_samples": BARE_BATCH},
    )
    assert ours.steps == bare.total.steps == steps
    assert ours.useful_share > bare.total.useful_share  # packing wastes fewer positions than padding


def test_train_vs_bare_torch_packed(benchmark, data: TrainData, device, device_info, synchronize, warmed_up) -> None:
    """Ours against the plain loop on the very same packed blocks: the overhead of the harness itself."""
    steps = train_steps(device)
    pad_id = data.tokenizer.pad_token_id
    blocks = pack(data.sequences, BLOCK_SIZE, pad_id)
    bare = BareLoop(
        fresh_model(data), packed_batches(blocks, OUR_BATCH, steps, SEED, pad_id, device), device, synchronize
    )
    ours, _, _ = measure(benchmark, side_by_side, args=(data, bare, steps))
    record(benchmark, "train_vs_bare_torch_packed", ours, bare.total, data, dict(device_info))
    assert ours.useful_tokens == bare.total.useful_tokens  # same blocks, same order
