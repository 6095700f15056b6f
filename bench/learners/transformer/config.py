"""The network's transformers config, built from the suite's settings and checked at validation time.

It imports transformers' config classes only (and so torch), not the modelling code: ``bench validate`` builds
the config of every scenario, and the modelling code would cost it seconds and over 100 MB more.
"""

from __future__ import annotations

import difflib
import math
from typing import TYPE_CHECKING, Any, Protocol

from transformers import AutoConfig

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast


class ModelSettings(Protocol):
    """What the network is built from (``bench.learners.transformer.learner.TransformerConfig`` provides it)."""

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
    """A transformers config for ``settings.architecture`` with the preset and the overrides applied.

    The overrides go to the config's constructor with the preset, so derived fields (Llama's ``head_dim``) follow
    them. A field the architecture does not have, or a value of another type than its default, is a ``ValueError``.
    """
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    if settings.architecture not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        what = "has no causal-LM model" if settings.architecture in CONFIG_MAPPING_NAMES else "is unknown"
        near = difflib.get_close_matches(settings.architecture, list(MODEL_FOR_CAUSAL_LM_MAPPING_NAMES), n=3)
        hint = f" (did you mean {', '.join(repr(n) for n in near)}?)" if near else ""
        raise ValueError(f"model.architecture {settings.architecture!r} {what} in transformers{hint}")
    preset = {} if settings.preset == "custom" else PRESETS[settings.preset].get(settings.architecture)
    if preset is None:
        known = ", ".join(sorted(PRESETS[settings.preset]))
        raise ValueError(
            f"model.preset {settings.preset!r} has no sizes for architecture {settings.architecture!r} "
            f"(known: {known}); use preset: custom with overrides"
        )
    defaults = AutoConfig.for_model(settings.architecture)
    for key, value in settings.overrides.items():
        _check_override(defaults, settings.architecture, key, value)
    fields: dict[str, Any] = {
        "vocab_size": len(tokenizer),
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
        **preset,
    }
    # Config classes alias some names (GPT-2's max_position_embeddings is n_positions): one name per field, so
    # that an override always wins over the preset and the context length.
    aliases = getattr(type(defaults), "attribute_map", {})
    for key in _CONTEXT_KEYS:
        if hasattr(defaults, key) and key not in aliases:
            fields[key] = settings.context_length or context_length
    overrides = {aliases.get(key, key): value for key, value in settings.overrides.items()}
    return AutoConfig.for_model(settings.architecture, **{**fields, **overrides})


def _check_override(defaults: Any, architecture: str, key: str, value: Any) -> None:
    """An override must name a field of the architecture's config and keep the type of its default."""
    if not isinstance(key, str) or key.startswith("_") or not hasattr(defaults, key):
        names = [n for n in defaults.to_dict() if isinstance(n, str)]
        near = difflib.get_close_matches(str(key), names, n=3)
        hint = f" (did you mean {', '.join(repr(n) for n in near)}?)" if near else ""
        raise ValueError(f"model.overrides: {architecture} config has no field {key!r}{hint}")
    default = getattr(defaults, key)
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    elif isinstance(default, str):
        ok = isinstance(value, str)
    elif default is None:
        ok = value is None or isinstance(value, str | int | float | dict | list)
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise ValueError(
            f"model.overrides.{key}: expected {type(default).__name__} like the default {default!r}, got {value!r}"
        )


def check_model_settings(settings: ModelSettings, tokenizer: PreTrainedTokenizerFast, block_size: int) -> None:
    """Validation-time checks that the network can be built and trained: the config, then what would fail later.

    Building the model itself (even on the meta device) would import the modelling code, about 10 s and 150 MB on
    a small CPU, so the checks stay on the config: sizes that divide, a vocabulary that holds the task's tokens,
    positions that hold a training block, probabilities in [0, 1] and a known activation.
    """
    config = model_config(settings, tokenizer, block_size)
    hidden = getattr(config, "hidden_size", None)
    heads = getattr(config, "num_attention_heads", None)
    for name, value in (("hidden size", hidden), ("attention heads", heads)):
        if isinstance(value, int) and value < 1:
            raise ValueError(f"model.overrides: the {name} must be at least 1, got {value}")
    layers = getattr(config, "num_hidden_layers", None)
    if isinstance(layers, int) and layers < 1:
        raise ValueError(f"model.overrides: the number of layers must be at least 1, got {layers}")
    if isinstance(hidden, int) and isinstance(heads, int) and "head_dim" not in settings.overrides:
        if hidden % heads:
            raise ValueError(
                f"model.overrides: {heads} attention heads do not divide the hidden size {hidden} "
                f"({settings.architecture})"
            )
    kv_heads = getattr(config, "num_key_value_heads", None)
    if isinstance(kv_heads, int) and isinstance(heads, int) and (kv_heads < 1 or heads % kv_heads):
        raise ValueError(f"model.overrides: {kv_heads} key/value heads do not divide {heads} attention heads")
    if config.vocab_size < len(tokenizer):
        raise ValueError(
            f"model.overrides.vocab_size ({config.vocab_size}) is smaller than the task's vocabulary "
            f"({len(tokenizer)} tokens)"
        )
    for key in _CONTEXT_KEYS:
        positions = getattr(config, key, None)
        if isinstance(positions, int) and positions < block_size:
            raise ValueError(f"model: {key} ({positions}) is shorter than training.block_size ({block_size})")
    from bench.model_folder import check_fits_memory, estimated_parameters

    check_fits_memory(estimated_parameters(config.to_dict()) or 0, f"model ({settings.architecture})")
    for key, value in settings.overrides.items():
        if ("drop" in key or key.endswith("dropout")) and isinstance(value, int | float) and not 0 <= value <= 1:
            raise ValueError(f"model.overrides.{key}: a dropout probability must be in [0, 1], got {value}")
        if key in ("activation_function", "hidden_act"):
            from transformers.activations import ACT2FN

            if value not in ACT2FN:
                near = difflib.get_close_matches(str(value), list(ACT2FN), n=3)
                hint = f" (did you mean {', '.join(repr(n) for n in near)}?)" if near else ""
                raise ValueError(f"model.overrides.{key}: unknown activation {value!r}{hint}")
