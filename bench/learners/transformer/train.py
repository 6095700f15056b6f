"""Training one generation: packed blocks, AdamW, warm-up + cosine decay, early stopping, on Accelerate.

Logic samples are short (≈12 tokens) and vary in length, so a padded batch wastes most of its compute. We pack
whole samples, each as ``<bos> tokens <eos>``, into fixed blocks (as nanoGPT does) and restart ``position_ids``
at every sample: transformers then builds a block-diagonal causal mask from the position ids, so attention stays
inside each sample and every sample sees the same positions it would see alone (GPT-2's learned positions).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from accelerate import Accelerator
from transformers import PreTrainedModel, PreTrainedTokenizerFast, get_cosine_with_min_lr_schedule_with_warmup

from bench.device import make_accelerator
from bench.records import FitResult

if TYPE_CHECKING:
    from bench.settings import TrainingConfig

IGNORE_INDEX = -100  # labels the loss skips: padding and each sample's <bos>


class TrainingDivergedError(RuntimeError):
    """The loss became NaN or infinite."""


@dataclass(frozen=True)
class PackedBlocks:
    """Whole samples packed into rows of ``block_size`` tokens."""

    input_ids: torch.Tensor  # (blocks, block_size)
    position_ids: torch.Tensor  # restarts at 0 at every sample
    labels: torch.Tensor  # IGNORE_INDEX on padding and on each <bos>
    useful_tokens: int  # non-padding tokens

    def __len__(self) -> int:
        return self.input_ids.shape[0]


def encode_samples(texts: Sequence[str], tokenizer: PreTrainedTokenizerFast) -> list[list[int]]:
    """``<bos> tokens <eos>`` per sample."""
    encoded = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
    return [[tokenizer.bos_token_id, *ids, tokenizer.eos_token_id] for ids in encoded]


def pack(sequences: Sequence[Sequence[int]], block_size: int, pad_id: int) -> PackedBlocks:
    """Pack sequences in order, first come first placed, never splitting one; pad each block's tail."""
    rows_ids: list[list[int]] = []
    rows_pos: list[list[int]] = []
    rows_lab: list[list[int]] = []
    ids: list[int] = []
    pos: list[int] = []
    lab: list[int] = []
    useful = 0

    def close_block() -> None:
        fill = block_size - len(ids)
        rows_ids.append(ids + [pad_id] * fill)
        rows_pos.append(pos + list(range(fill)))
        rows_lab.append(lab + [IGNORE_INDEX] * fill)

    for sequence in sequences:
        if len(sequence) > block_size:
            raise ValueError(f"a sample of {len(sequence)} tokens does not fit training.block_size={block_size}")
        if len(ids) + len(sequence) > block_size:
            close_block()
            ids, pos, lab = [], [], []
        ids.extend(sequence)
        pos.extend(range(len(sequence)))
        lab.extend([IGNORE_INDEX, *sequence[1:]])
        useful += len(sequence)
    if ids:
        close_block()
    return PackedBlocks(
        input_ids=torch.tensor(rows_ids, dtype=torch.long).reshape(-1, block_size),
        position_ids=torch.tensor(rows_pos, dtype=torch.long).reshape(-1, block_size),
        labels=torch.tensor(rows_lab, dtype=torch.long).reshape(-1, block_size),
        useful_tokens=useful,
    )


def batch_schedule(n_blocks: int, batch_size: int, iterations: int, seed: int) -> list[list[int]]:
    """Block indices for every step: epochs of seeded permutations, so each block is seen once per epoch."""
    rng = random.Random(seed)
    order: list[int] = []
    steps: list[list[int]] = []
    for _ in range(iterations):
        batch: list[int] = []
        while len(batch) < batch_size:
            if not order:
                order = list(range(n_blocks))
                rng.shuffle(order)
            batch.append(order.pop())
        steps.append(batch)
    return steps


def step_budget(max_iters: int, max_epochs: float | None, n_blocks: int, global_batch: int) -> int:
    """Optimizer steps to run: ``max_iters``, or fewer when ``max_epochs`` passes over ``n_blocks`` blocks (at
    ``global_batch`` blocks a step) end sooner; at least one step."""
    if max_epochs is None:
        return max_iters
    return max(1, min(max_iters, math.ceil(max_epochs * n_blocks / global_batch)))


def shard(batch: list[int], process_index: int, num_processes: int) -> list[int]:
    """This process's share of a global batch (data parallel: every block is used by exactly one process)."""
    return batch[process_index::num_processes]


@torch.no_grad()
def validation_loss(model: torch.nn.Module, blocks: PackedBlocks, batch_size: int, device: torch.device) -> float:
    """Mean token loss over all validation blocks (weighted by supervised tokens)."""
    model.eval()
    total, count = 0.0, 0
    for start in range(0, len(blocks), batch_size):
        labels = blocks.labels[start : start + batch_size].to(device)
        out = model(
            input_ids=blocks.input_ids[start : start + batch_size].to(device),
            position_ids=blocks.position_ids[start : start + batch_size].to(device),
            labels=labels,
            use_cache=False,
        )
        # HF shifts labels by one inside the model; count the targets it actually scored.
        n = int((labels[:, 1:] != IGNORE_INDEX).sum())
        total += float(out.loss) * n
        count += n
    model.train()
    return total / max(count, 1)


def train(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerFast,
    train_texts: Sequence[str],
    val_texts: Sequence[str],
    settings: TrainingConfig,
    seed: int,
    accelerator: Accelerator | None = None,
    progress: Callable[[int, float], None] | None = None,
) -> FitResult:
    """Train ``model`` in place for ``settings.max_iters`` steps, or ``settings.max_epochs`` passes over the training
    blocks if that comes first (or until early stopping); end with the best weights, or the last (``keep: last``)."""
    accelerator = accelerator or make_accelerator(settings.precision)
    torch.manual_seed(seed)
    train_blocks = pack(encode_samples(train_texts, tokenizer), settings.block_size, tokenizer.pad_token_id)
    val_blocks = pack(encode_samples(val_texts, tokenizer), settings.block_size, tokenizer.pad_token_id)
    if len(train_blocks) == 0 or len(val_blocks) == 0:
        raise ValueError("training needs at least one training and one validation sample")

    # Weight decay on matrices only, not on biases and layer norms (as nanoGPT).
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": settings.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=settings.learning_rate,
        betas=(0.9, settings.beta2),
    )
    global_batch = settings.batch_size * accelerator.num_processes
    total_iters = step_budget(settings.max_iters, settings.max_epochs, len(train_blocks), global_batch)
    # The schedule spans the steps that will run: an epoch budget shorter than the warm-up shortens the warm-up too.
    scheduler = get_cosine_with_min_lr_schedule_with_warmup(
        optimizer, min(settings.warmup_iters, total_iters), total_iters, min_lr_rate=settings.min_lr_ratio
    )
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    device = accelerator.device
    schedule = batch_schedule(len(train_blocks), global_batch, total_iters, seed)

    best_loss, best_iteration, bad_evals = math.inf, 0, 0
    best_state: dict[str, torch.Tensor] | None = None
    useful = padded = 0
    stopped_early = False
    iteration = 0
    useful_per_block = (train_blocks.input_ids != tokenizer.pad_token_id).sum(dim=1)
    # The packed blocks move to the device once (a few MB): per-batch host-to-device copies would stall a GPU that
    # several cells share. On CPU this is no copy at all.
    on_device = [t.to(device) for t in (train_blocks.input_ids, train_blocks.labels, train_blocks.position_ids)]
    model.train()
    started = time.perf_counter()
    for iteration, batch in enumerate(schedule, start=1):
        index = torch.tensor(shard(batch, accelerator.process_index, accelerator.num_processes))
        input_ids, labels, position_ids = (t[index.to(device)] for t in on_device)
        with accelerator.autocast():
            loss = model(
                input_ids=input_ids,
                position_ids=position_ids,
                labels=labels,
                use_cache=False,  # with a cache object transformers skips the packed (block-diagonal) mask
            ).loss
        if not torch.isfinite(loss):
            raise TrainingDivergedError(
                f"training loss became {float(loss.detach())} at iteration {iteration}; lower training.learning_rate "
                f"(now {settings.learning_rate}) or training.grad_clip"
            )
        accelerator.backward(loss)
        accelerator.clip_grad_norm_(model.parameters(), settings.grad_clip)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        padded += input_ids.numel()
        useful += int(useful_per_block[index].sum())
        if progress is not None:
            progress(iteration, float(loss.detach()))  # the loss is already synced by the isfinite check

        if iteration % settings.eval_interval == 0 or iteration == total_iters:
            loss_value = validation_loss(model, val_blocks, settings.batch_size * 4, device)
            if not math.isfinite(loss_value):
                raise TrainingDivergedError(f"validation loss became {loss_value} at iteration {iteration}")
            if loss_value < best_loss:
                best_loss, best_iteration, bad_evals = loss_value, iteration, 0
                if settings.keep == "best":  # a copy only when it will be restored
                    unwrapped = accelerator.unwrap_model(model)
                    best_state = {k: v.detach().to("cpu", copy=True) for k, v in unwrapped.state_dict().items()}
            else:
                bad_evals += 1
                if bad_evals >= settings.patience:
                    stopped_early = True
                    break
    seconds = time.perf_counter() - started
    unwrapped = accelerator.unwrap_model(model)
    if best_state is not None:
        unwrapped.load_state_dict(best_state)
    accelerator.free_memory()
    return FitResult(
        iterations=iteration,
        best_val_loss=best_loss,
        best_iteration=best_iteration,
        stopped_early=stopped_early,
        seconds=seconds,
        useful_tokens=useful,
        padded_tokens=padded,
        epochs=iteration * global_batch / len(train_blocks),
    )
