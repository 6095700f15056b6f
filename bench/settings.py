"""The training and sampling sections of a suite: plain settings, read by the schema and by the learners.

They sit below both, so that the learners can read their settings without importing the suite schema that lists
the learners.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from bench.schema import Strict


class TrainingConfig(Strict):
    max_iters: int = Field(5000, ge=1, le=10_000_000)
    """Optimizer steps per generation (the study: 5,000)."""
    batch_size: int = Field(16, ge=1, le=4096)
    """Packed blocks per step (per process)."""
    block_size: int = Field(256, ge=16, le=8192)
    """Tokens per packed block; whole samples are packed, never split."""
    learning_rate: float = Field(6e-4, gt=0.0, le=1.0)
    """Peak learning rate of AdamW."""
    min_lr_ratio: float = Field(0.1, ge=0.0, le=1.0)
    """The cosine decay ends at ``learning_rate * min_lr_ratio``."""
    warmup_iters: int = Field(100, ge=0)
    """Linear warm-up steps."""
    weight_decay: float = Field(0.1, ge=0.0, le=1.0)
    """AdamW weight decay."""
    grad_clip: float = Field(1.0, gt=0.0)
    """Gradient-norm clip."""
    eval_interval: int = Field(250, ge=1)
    """Validate every this many steps (and at the end)."""
    patience: int = Field(5, ge=1)
    """Stop after this many validations without improvement; the best checkpoint is kept."""
    beta2: float = Field(0.95, gt=0.0, lt=1.0)
    """AdamW's second-moment decay (β1 is 0.9); nanoGPT uses 0.99 for its small character models."""
    max_epochs: float | None = Field(None, gt=0.0, le=1_000_000.0)
    """Stop after this many passes over the generation's training blocks, or at ``max_iters``, whichever comes
    first; ``null`` (default) keeps the study's fixed-step budget. The learning-rate schedule spans the steps run."""
    validation: Literal["items", "strings", "real"] = "items"
    """What the validation loss (early stopping, best checkpoint) is measured on. ``items`` (default, the study's):
    round(``validation_fraction`` × n) items of the generation's data set drawn uniformly without replacement, so
    copies of one string may fall on both sides; ``strings``: whole distinct strings held out (every copy on one
    side); ``real``: the generation trains on all of its data set and validates on a real validation set V* drawn
    once per seed, disjoint from T*. docs/design.md says what each measures."""
    keep: Literal["best", "last"] = "best"
    """The weights a fit ends with: ``best`` (default, the study's): those of the validation with the lowest loss;
    ``last``: those after the last step, the validation loss then only monitoring the fit (and early stopping), as in
    Shumailov et al.'s released code, which generates with the model as the last epoch left it. The ``val_loss``
    metric stays the best validation loss of the fit, which under ``last`` may belong to weights it did not keep."""
    precision: Literal["auto", "no", "bf16", "fp16"] = "auto"
    """Mixed precision for Accelerate; ``auto`` is bf16 on CUDA and full precision on CPU."""

    @model_validator(mode="before")
    @classmethod
    def _early_stopping_was_renamed(cls, data: object) -> object:
        if isinstance(data, dict) and "early_stopping" in data:
            raise ValueError(
                "early_stopping was replaced by training.validation: write 'validation: items' (or 'strings', the "
                "old 'own') or 'validation: real' (the old 'real')"
            )
        return data

    @model_validator(mode="after")
    def _warmup_fits(self) -> TrainingConfig:
        if self.warmup_iters > self.max_iters:
            raise ValueError(f"warmup_iters ({self.warmup_iters}) must not exceed max_iters ({self.max_iters})")
        return self


class SamplingConfig(Strict):
    n: int | None = Field(None, ge=1, le=10_000_000)
    """Samples drawn per generation; default: ``data.size``."""
    temperature: float = Field(0.8, ge=1e-3, le=10.0)
    """Softmax temperature (the study: 0.8). At least 0.001: logits divided by less overflow half precision (65504)
    already at a logit of 65, and a lower temperature is greedy decoding in all but name."""
    top_k: int | None = Field(None, ge=1)
    """Keep only the k most likely tokens (off by default)."""
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    """Nucleus sampling mass (off by default)."""
    max_new_tokens: int | None = Field(None, ge=1, le=8192)
    """Longest sample; default: the task's bound on sample length plus one. Text in ``continue`` mode writes exactly
    ``chunk_tokens`` new tokens, so it must stay unset there (or equal them)."""
    batch_size: int = Field(1000, ge=1, le=100_000)
    """Sequences decoded at once."""
    mode: Literal["auto", "continue", "free"] = "auto"
    """``continue`` (Shumailov et al., Nature 2024): every generation prompts with the *original* data R, the first
    ``prompt_tokens`` tokens of each block of R (a seeded order, cycled when more samples than blocks are asked),
    and the model writes exactly ``task.params.chunk_tokens`` new tokens (end-of-sequence suppressed until then);
    the sample, trained on by the next generation, is the new text only, so every generation's texts have R's
    length. ``free``: unconditional samples from ``<bos>`` that end at end-of-sequence or ``max_new_tokens``;
    ``auto``: ``continue`` for the text task, ``free`` otherwise."""
    prompt_tokens: int = Field(16, ge=1, le=8192)
    """k, the prompt length of ``continue`` mode, in tokens (at least a block's length: the whole block)."""
    num_beams: int = Field(1, ge=1, le=64)
    """Beams of transformers' ``generate`` (text task; Shumailov et al.: 5)."""
    repetition_penalty: float = Field(1.0, gt=0.0, le=100.0)
    """``generate``'s repetition penalty (text task; Shumailov et al.: 3.0; 1.0 is none)."""
    do_sample: bool = True
    """Sample (``True``) or decode greedily / by beam search (``False``; text task)."""

    def resolved_mode(self, has_prompts: bool) -> Literal["continue", "free"]:
        if self.mode == "auto":
            return "continue" if has_prompts else "free"
        return self.mode


class MetricsConfig(Strict):
    """Models that score a text suite's samples: fixed for the whole suite, never the generation's own model."""

    features: str | None = None
    """MAUVE's featurizer: a local ``save_pretrained`` folder; default ``model.pretrained`` at its original
    weights."""
    reference_model: str | None = None
    """The scorer of ``sample_ppl_ref``: a local ``save_pretrained`` folder; default generation 0's model (the
    model fitted on R, as in Shumailov et al.)."""
    mauve: bool = True
    """Measure MAUVE (``false``: a suite too small for it, under 50 samples)."""
    mauve_texts: int | None = Field(None, ge=1, le=1_000_000)
    """|P| = |Q| of MAUVE: true continuations of held-out test prompts, and as many samples; default: every
    sample. At least 50 (5 k-means clusters of 10)."""
