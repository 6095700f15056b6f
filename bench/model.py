"""The language model: a transformers causal LM built from the suite's settings and trained from scratch."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, PreTrainedModel, PreTrainedTokenizerFast

from bench.model_config import PRESETS, ModelSettings, check_model_settings, model_config

__all__ = [
    "PRESETS",
    "ModelSettings",
    "build_model",
    "check_model_settings",
    "count_parameters",
    "load_model",
    "model_config",
    "save_checkpoint",
]


def build_model(
    settings: ModelSettings, tokenizer: PreTrainedTokenizerFast, context_length: int, seed: int
) -> PreTrainedModel:
    """A freshly initialised causal LM; the weights depend only on ``seed``."""
    config = model_config(settings, tokenizer, context_length)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(config, attn_implementation="sdpa")
    return model


def load_model(path: str | Path) -> PreTrainedModel:
    """Load a checkpoint folder written by ``save_checkpoint`` (safetensors; no pickle)."""
    return AutoModelForCausalLM.from_pretrained(path, attn_implementation="sdpa", use_safetensors=True)


def save_checkpoint(model: PreTrainedModel, tokenizer: PreTrainedTokenizerFast, path: str | Path) -> None:
    """A ``save_pretrained`` folder (safetensors + tokenizer) that ``from_pretrained`` loads."""
    model.save_pretrained(path, safe_serialization=True)
    tokenizer.save_pretrained(path)


def count_parameters(model: torch.nn.Module) -> int:
    """Distinct parameters (tied embeddings counted once)."""
    return sum(p.numel() for p in model.parameters())
