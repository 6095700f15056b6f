"""The language model: a transformers causal LM built from the suite's settings and trained from scratch."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import torch
from transformers import AutoConfig, AutoModelForCausalLM, PreTrainedModel, PreTrainedTokenizerFast


class ModelSettings(Protocol):
    """What the network is built from (``bench.learners.transformer.TransformerConfig`` provides it)."""

    preset: str
    architecture: str
    overrides: dict[str, Any]
    context_length: int | None


# Architecture sizes per preset, in each model family's own config names. "paper" is the reference study's
# 6 layers / 6 heads / 384 dims (≈10.6M parameters with GPT-2's tied embeddings and 256 positions).
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "paper": {
        "gpt2": {
            "n_layer": 6,
            "n_head": 6,
            "n_embd": 384,
            "resid_pdrop": 0.0,
            "embd_pdrop": 0.0,
            "attn_pdrop": 0.0,
        },
        "llama": {
            "num_hidden_layers": 6,
            "num_attention_heads": 6,
            "num_key_value_heads": 6,
            "hidden_size": 384,
            "intermediate_size": 1024,
        },
    },
    "tiny": {
        "gpt2": {
            "n_layer": 2,
            "n_head": 2,
            "n_embd": 64,
            "resid_pdrop": 0.0,
            "embd_pdrop": 0.0,
            "attn_pdrop": 0.0,
        },
        "llama": {
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "num_key_value_heads": 2,
            "hidden_size": 64,
            "intermediate_size": 128,
        },
    },
}

# Config keys for the context length, per family (GPT-2 says n_positions, most others max_position_embeddings).
_CONTEXT_KEYS = ("n_positions", "max_position_embeddings")


def model_config(settings: ModelSettings, tokenizer: PreTrainedTokenizerFast, context_length: int):
    """A transformers config for ``settings.architecture`` with the preset and the overrides applied."""
    preset = {} if settings.preset == "custom" else PRESETS[settings.preset].get(settings.architecture)
    if preset is None:
        known = ", ".join(sorted(PRESETS[settings.preset]))
        raise ValueError(
            f"model.preset {settings.preset!r} has no sizes for architecture {settings.architecture!r} "
            f"(known: {known}); use preset: custom with overrides"
        )
    fields: dict[str, Any] = {
        "vocab_size": len(tokenizer),
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
        **preset,
    }
    config = AutoConfig.for_model(settings.architecture, **fields)
    for key in _CONTEXT_KEYS:
        if hasattr(config, key):
            setattr(config, key, settings.context_length or context_length)
    for key, value in settings.overrides.items():
        if not hasattr(config, key):
            raise ValueError(f"model.overrides: {settings.architecture} config has no field {key!r}")
        setattr(config, key, value)
    return config


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
    return AutoModelForCausalLM.from_pretrained(
        path, attn_implementation="sdpa", use_safetensors=True, local_files_only=True
    )


def check_pretrained(path: str | Path) -> None:
    """Refuse, with a message naming the folder, what is not a local causal-LM folder with safetensors weights."""
    folder = Path(path)
    if not folder.is_dir():
        raise ValueError(f"model.pretrained: {folder}: no such folder (a save_pretrained folder is expected)")
    if not (folder / "config.json").is_file():
        raise ValueError(f"model.pretrained: {folder}: no config.json; not a save_pretrained model folder")
    if not any(folder.glob("*.safetensors")):
        raise ValueError(f"model.pretrained: {folder}: no .safetensors weights (other formats are not loaded)")
    if not (folder / "tokenizer.json").is_file() and not (folder / "tokenizer_config.json").is_file():
        raise ValueError(f"model.pretrained: {folder}: no tokenizer (save it with tokenizer.save_pretrained)")


def fresh_like(path: str | Path, seed: int) -> PreTrainedModel:
    """The architecture of the model folder at ``path`` with freshly initialised weights (``init: scratch``)."""
    config = AutoConfig.from_pretrained(path, local_files_only=True)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return AutoModelForCausalLM.from_config(config, attn_implementation="sdpa")


def save_checkpoint(model: PreTrainedModel, tokenizer: PreTrainedTokenizerFast, path: str | Path) -> None:
    """A ``save_pretrained`` folder (safetensors + tokenizer) that ``from_pretrained`` loads."""
    model.save_pretrained(path, safe_serialization=True)
    tokenizer.save_pretrained(path)


def count_parameters(model: torch.nn.Module) -> int:
    """Distinct parameters (tied embeddings counted once)."""
    return sum(p.numel() for p in model.parameters())
