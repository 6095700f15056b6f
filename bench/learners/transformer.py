"""The transformer learner: a transformers causal LM trained from scratch (or warm) each generation.

Its parts are readable on their own: ``bench.model`` builds and saves the network, ``bench.train`` packs and trains
it with Accelerate, ``bench.sample`` draws samples with the KV cache. This module joins them behind the learner seam.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from bench.learners.base import LEARNERS, LearnerConfig, LearnerSetup, Progress

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerFast

    from bench.settings import SamplingConfig
    from bench.tasks import Task

# The network code (bench.model, bench.train, bench.sample) is imported where it is used: loading transformers'
# modelling code takes seconds, which `bench validate` and runs of other learners should not pay.


@LEARNERS.register("transformer")
class TransformerConfig(LearnerConfig):
    """A transformers causal LM (``model: {kind: transformer, ...}``, the default learner)."""

    kind: Literal["transformer"] = "transformer"
    """Which learner: a transformers causal LM trained on each generation's data."""
    preset: Literal["paper", "tiny", "custom"] = "paper"
    """``paper``: GPT-2, 6 layers, 6 heads, 384 dims (the reference study); ``tiny``: a CPU-test size;
    ``custom``: only ``architecture`` + ``overrides``."""
    architecture: str = "gpt2"
    """Any transformers causal-LM ``model_type`` (``gpt2``, ``llama``, ``mistral`` ...)."""
    overrides: dict[str, Any] = Field(default_factory=dict)
    """Extra transformers config fields, applied over the preset (e.g. ``{n_layer: 4}``)."""
    init: Literal["scratch", "warm"] = "scratch"
    """``scratch``: each generation starts from fresh random weights; ``warm``: from the previous generation's."""
    context_length: int | None = Field(None, ge=8, le=8192)
    """Positions the model supports; default: the training block size."""

    @property
    def warm_start(self) -> bool:
        return self.init == "warm"

    def create(self, setup: LearnerSetup, seed: int, warm_from: Path | None = None) -> TransformerLearner:
        from bench.model import build_model, load_model

        tokenizer = setup.task.build_tokenizer()
        if warm_from is not None:
            model = load_model(warm_from)
        else:
            model = build_model(self, tokenizer, setup.training.block_size, seed=seed)
        return TransformerLearner(model, tokenizer, setup)

    def load(self, setup: LearnerSetup, path: Path) -> TransformerLearner:
        from bench.model import load_model

        return TransformerLearner(load_model(path), setup.task.build_tokenizer(), setup)

    def check(self, task: Task, block_size: int) -> None:
        if self.context_length is not None and self.context_length < block_size:
            raise ValueError(
                f"model.context_length ({self.context_length}) is shorter than training.block_size ({block_size})"
            )
        # Build the transformers config from the overrides now, so that a suite that validates can run.
        from bench.model_config import check_model_settings

        check_model_settings(self, task.build_tokenizer(), block_size)


class TransformerLearner:
    """One generation's causal LM with its tokenizer."""

    def __init__(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerFast, setup: LearnerSetup) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.setup = setup

    def fit(self, train_texts: Sequence[str], validation: Sequence[str], seed: int, progress: Progress | None):
        from bench.train import train

        total = self.setup.training.max_iters
        return train(
            self.model,
            self.tokenizer,
            train_texts,
            validation,
            self.setup.training,
            seed=seed,
            accelerator=self.setup.accelerator,
            progress=None if progress is None else (lambda step, loss: progress(step, total, loss)),
        )

    def sample(self, n: int, seed: int, settings: SamplingConfig, progress: Progress | None) -> list[str]:
        from bench.sample import sample

        done = 0

        def advance(count: int) -> None:
            nonlocal done
            done += count
            if progress is not None:
                progress(done, n)

        return sample(
            self.model,
            self.tokenizer,
            n,
            seed=seed,
            settings=settings,
            max_new_tokens=self.setup.task.max_tokens() + 1,  # the task's longest sample, plus <eos>
            progress=advance,
        )

    def nll(self, texts: Sequence[str]) -> float | None:
        """Mean per-token NLL of ``<bos> text <eos>`` sequences, the same definition as the validation loss."""
        from bench.train import encode_samples, pack, validation_loss

        if not texts:
            return None
        blocks = pack(
            encode_samples(texts, self.tokenizer), self.setup.training.block_size, self.tokenizer.pad_token_id
        )
        device = next(self.model.parameters()).device
        return validation_loss(self.model, blocks, self.setup.training.batch_size * 4, device)

    def save(self, path: Path) -> None:
        from bench.model import save_checkpoint

        save_checkpoint(self.model, self.tokenizer, path)

    def to(self, device: Any) -> TransformerLearner:
        self.model = self.model.to(device)
        return self
