"""The transformer learner: a transformers causal LM trained from scratch, warm, or from pretrained weights.

Its parts are readable on their own: ``bench.learners.transformer.model`` builds and saves the network,
``bench.learners.transformer.train`` packs and trains
it with Accelerate, ``bench.learners.transformer.sample`` draws samples with the KV cache. This module joins them
behind the learner seam.
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

# The network code (bench.learners.transformer.model, bench.learners.transformer.train,
# bench.learners.transformer.sample) is imported where it is used: loading transformers' modelling code takes seconds,
# which `bench validate` and runs of other learners should not pay.


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
    init: Literal["scratch", "warm", "pretrained"] = "scratch"
    """``scratch``: each generation starts from fresh random weights; ``warm``: from the previous generation's;
    ``pretrained``: from ``pretrained``'s weights every generation (Shumailov et al.'s protocol). With
    ``pretrained`` set, ``scratch`` builds its architecture with fresh weights and ``warm`` starts generation 0 from
    its weights."""
    pretrained: str | None = None
    """A local ``save_pretrained`` folder of a causal LM with its tokenizer (safetensors only; nothing is
    downloaded). Its architecture and tokenizer replace ``preset``/``architecture``/``overrides``."""
    context_length: int | None = Field(None, ge=8, le=8192)
    """Positions the model supports; default: the training block size."""

    @property
    def warm_start(self) -> bool:
        return self.init == "warm"

    def create(self, setup: LearnerSetup, seed: int, warm_from: Path | None = None) -> TransformerLearner:
        from bench.learners.transformer.model import build_model, fresh_like, load_model

        tokenizer = setup.task.build_tokenizer()
        if warm_from is not None:
            model = load_model(warm_from)
        elif self.pretrained is not None and self.init == "scratch":
            model = fresh_like(self.pretrained, seed=seed)
        elif self.pretrained is not None:  # pretrained, or warm's generation 0
            model = load_model(self.pretrained)
        else:
            model = build_model(self, tokenizer, setup.training.block_size, seed=seed)
        return TransformerLearner(model, tokenizer, setup)

    def load(self, setup: LearnerSetup, path: Path) -> TransformerLearner:
        from bench.learners.transformer.model import load_model

        return TransformerLearner(load_model(path), setup.task.build_tokenizer(), setup)

    def check(self, task: Task, block_size: int) -> None:
        if self.init == "pretrained" and self.pretrained is None:
            raise ValueError("model.init 'pretrained' needs model.pretrained (a save_pretrained folder)")
        if self.pretrained is not None:
            from bench.learners.transformer.model import check_pretrained

            check_pretrained(self.pretrained)
            tokenizer_path = getattr(task, "tokenizer_path", None)
            if tokenizer_path is not None and Path(tokenizer_path).resolve() != Path(self.pretrained).resolve():
                raise ValueError(
                    f"task.params.tokenizer ({tokenizer_path}) must be the model's folder model.pretrained "
                    f"({self.pretrained}): the corpus is cut into the model's tokens"
                )
        elif getattr(task, "tokenizer_path", None) is not None:
            raise ValueError("the text task needs model.pretrained (its tokenizer cuts the corpus)")
        if self.context_length is not None and self.context_length < block_size:
            raise ValueError(
                f"model.context_length ({self.context_length}) is shorter than training.block_size ({block_size})"
            )
        # Build the transformers config from the overrides now, so that a suite that validates can run.
        from bench.learners.transformer.config import check_model_settings

        check_model_settings(self, task.build_tokenizer(), block_size)


class TransformerLearner:
    """One generation's causal LM with its tokenizer."""

    def __init__(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerFast, setup: LearnerSetup) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.setup = setup

    @property
    def is_text(self) -> bool:
        """Whether the task is free text (no verdicts): it is sampled with ``generate`` and fitted on truncated
        texts."""
        return not getattr(self.setup.task, "has_verdicts", True)

    def fit(self, train_texts: Sequence[str], validation: Sequence[str], seed: int, progress: Progress | None):
        from bench.learners.transformer.train import train

        if self.is_text:  # decoded text may re-encode a few tokens longer than it was generated; cut it back
            train_texts, validation = self.truncated(train_texts), self.truncated(validation)
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

    def truncated(self, texts: Sequence[str]) -> list[str]:
        """Texts of more than ``block_size - 2`` tokens cut to that length (``<bos>``/``<eos>`` take two)."""
        limit = self.setup.training.block_size - 2
        out = list(texts)
        for i, ids in enumerate(self.tokenizer(out, add_special_tokens=False)["input_ids"]):
            keep = limit
            while len(ids) > limit and keep > 0:
                # A cut inside a multi-byte character decodes to U+FFFD, which re-encodes longer: cut until it fits.
                out[i] = self.tokenizer.decode(ids[:keep], clean_up_tokenization_spaces=False)
                keep -= 1
                if len(self.tokenizer(out[i], add_special_tokens=False)["input_ids"]) <= limit:
                    break
        return out

    def sample(
        self,
        n: int,
        seed: int,
        settings: SamplingConfig,
        progress: Progress | None,
        prompts: Sequence[str] | None = None,
    ) -> list[str]:
        done = 0

        def advance(count: int) -> None:
            nonlocal done
            done += count
            if progress is not None:
                progress(done, n)

        if self.is_text:
            from bench.learners.transformer.generate import generate_texts

            return generate_texts(
                self.model,
                self.tokenizer,
                n,
                seed=seed,
                settings=settings,
                max_new_tokens=settings.max_new_tokens or self.setup.task.max_tokens(),
                prompts=prompts,
                progress=advance,
            )
        from bench.learners.transformer.sample import sample

        return sample(
            self.model,
            self.tokenizer,
            n,
            seed=seed,
            settings=settings,
            max_new_tokens=self.setup.task.max_tokens() + 1,  # the task's longest sample, plus <eos>
            progress=advance,
        )

    def nll_each(self, texts: Sequence[str]) -> list[float]:
        """Mean per-token NLL (nats) of each ``<bos> text <eos>`` separately, in order."""
        import torch

        from bench.learners.transformer.train import encode_samples

        sequences = encode_samples(self.truncated(texts), self.tokenizer)
        device = next(self.model.parameters()).device
        batch_size = self.setup.training.batch_size * 4
        out: list[float] = []
        was_training = self.model.training
        self.model.eval()
        with torch.inference_mode():
            for start in range(0, len(sequences), batch_size):
                batch = sequences[start : start + batch_size]
                width = max(len(s) for s in batch)
                ids = torch.tensor([s + [self.tokenizer.pad_token_id] * (width - len(s)) for s in batch], device=device)
                mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in batch], device=device)
                logits = self.model(input_ids=ids, attention_mask=mask, use_cache=False).logits[:, :-1].float()
                losses = torch.nn.functional.cross_entropy(
                    logits.transpose(1, 2), ids[:, 1:], reduction="none"
                )  # (batch, width - 1): token t+1 given tokens up to t
                scored = mask[:, 1:].float()
                out.extend(((losses * scored).sum(1) / scored.sum(1)).tolist())
        self.model.train(was_training)
        return out

    def nll(self, texts: Sequence[str]) -> float | None:
        """Mean per-token NLL of ``<bos> text <eos>`` sequences, the same definition as the validation loss."""
        from bench.learners.transformer.train import encode_samples, pack, validation_loss

        if not texts:
            return None
        if self.is_text:
            texts = self.truncated(texts)
        blocks = pack(
            encode_samples(texts, self.tokenizer), self.setup.training.block_size, self.tokenizer.pad_token_id
        )
        device = next(self.model.parameters()).device
        return validation_loss(self.model, blocks, self.setup.training.batch_size * 4, device)

    def save(self, path: Path) -> None:
        from bench.learners.transformer.model import save_checkpoint

        save_checkpoint(self.model, self.tokenizer, path)

    def to(self, device: Any) -> TransformerLearner:
        self.model = self.model.to(device)
        return self
