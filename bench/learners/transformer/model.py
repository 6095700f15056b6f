"""The language model: a transformers causal LM built from the suite's settings and trained from scratch."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoConfig, AutoModelForCausalLM, PreTrainedModel, PreTrainedTokenizerFast

from bench.learners.transformer.config import PRESETS, ModelSettings, check_model_settings, model_config

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
        model = AutoModelForCausalLM.from_config(config, attn_implementation="sdpa", trust_remote_code=False)
    return model


def load_model(path: str | Path) -> PreTrainedModel:
    """Load a checkpoint folder written by ``save_checkpoint`` (safetensors; no pickle).

    Weights that do not fit the folder's config (another architecture's tensors, a relabelled ``model_type``) are an
    error: transformers would only log them and train from randomly initialised layers."""
    model, info = AutoModelForCausalLM.from_pretrained(
        path,
        attn_implementation="sdpa",
        use_safetensors=True,
        local_files_only=True,
        trust_remote_code=False,
        output_loading_info=True,
    )
    for kind in ("missing_keys", "unexpected_keys", "mismatched_keys"):
        keys = sorted(str(k) for k in info.get(kind) or ())
        if keys:
            raise ValueError(
                f"{path}: the weights do not fit config.json ({len(keys)} {kind.replace('_', ' ')}, e.g. {keys[0]})"
            )
    return model


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
    from bench.model_folder import ModelFolderError, check_model_folder

    try:  # no auto_map (remote code), a known causal-LM type, sound safetensors headers, a size that fits
        check_model_folder(folder)
    except ModelFolderError as error:
        raise ValueError(f"model.pretrained: {error}") from None


def fresh_like(path: str | Path, seed: int) -> PreTrainedModel:
    """The architecture of the model folder at ``path`` with freshly initialised weights (``init: scratch``)."""
    config = AutoConfig.from_pretrained(path, local_files_only=True, trust_remote_code=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return AutoModelForCausalLM.from_config(config, attn_implementation="sdpa", trust_remote_code=False)


def save_checkpoint(model: PreTrainedModel, tokenizer: PreTrainedTokenizerFast, path: str | Path) -> None:
    """A ``save_pretrained`` folder (safetensors + tokenizer) that ``from_pretrained`` loads."""
    model.save_pretrained(path, safe_serialization=True)
    tokenizer.save_pretrained(path)


def count_parameters(model: torch.nn.Module) -> int:
    """Distinct parameters (tied embeddings counted once)."""
    return sum(p.numel() for p in model.parameters())
