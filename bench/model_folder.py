"""A local model folder (``model.pretrained``) checked at validation, without importing or running anything in it.

transformers runs Python files of a model folder when its ``config.json`` (or ``tokenizer_config.json``) names them
in ``auto_map`` and the load passes ``trust_remote_code=True``; bench passes ``False`` on every load, and refuses such
a folder here with one line instead of letting transformers ask on stdin. The checks read only JSON and the
safetensors headers (format: https://github.com/huggingface/safetensors#format): a folder that validates can load.

- ``config.json``: a JSON object (at most 1 MB), no ``auto_map``, a ``model_type`` transformers knows as a causal LM;
- ``tokenizer_config.json`` (if present): a JSON object without ``auto_map``;
- every ``*.safetensors`` file: an 8-byte little-endian header length within the file (and the format's 100 MB cap),
  a JSON header whose tensors have a known dtype, a shape of non-negative integers and data offsets that lie inside
  the file and match the shape;
- the size: the model's fp32 training state (weights, gradients, two AdamW moments: 16 bytes a parameter) must fit
  in this machine's memory.
"""

from __future__ import annotations

import json
import math
import os
import stat
import struct
from pathlib import Path
from typing import Any

MAX_JSON_BYTES = 1 << 20  # a config.json is a few kB; a bigger one is not a model config
MAX_HEADER_BYTES = 100 * 1000 * 1000  # the safetensors format's own limit on the header
TRAINING_BYTES_PER_PARAMETER = 16  # fp32 weights + gradients + AdamW's two moments

# Bytes per element of each safetensors dtype (the format's list).
DTYPE_BYTES = {
    "BOOL": 1,
    "U8": 1,
    "I8": 1,
    "F8_E5M2": 1,
    "F8_E4M3": 1,
    "I16": 2,
    "U16": 2,
    "F16": 2,
    "BF16": 2,
    "I32": 4,
    "U32": 4,
    "F32": 4,
    "I64": 8,
    "U64": 8,
    "F64": 8,
}


SIZE_FIELDS = (
    "vocab_size",
    "hidden_size",
    "n_embd",
    "num_hidden_layers",
    "n_layer",
    "num_attention_heads",
    "n_head",
    "intermediate_size",
    "n_positions",
    "max_position_embeddings",
)


class ModelFolderError(ValueError):
    """A model folder bench will not load; one line naming the file and the problem."""


def read_json_object(path: Path, limit: int = MAX_JSON_BYTES) -> dict[str, Any]:
    """A small JSON file holding an object; anything else (too big, not UTF-8 JSON, too deeply nested) refuses."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise ModelFolderError(f"{path}: not a regular file")
        with open(path, "rb") as handle:
            raw = handle.read(limit + 1)
    except OSError as error:
        raise ModelFolderError(f"{path}: cannot read: {error.strerror or error}") from None
    if len(raw) > limit:
        raise ModelFolderError(f"{path}: larger than {limit // 1024} kB; not a model's JSON file")
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise ModelFolderError(f"{path}: not UTF-8 (byte {error.start})") from None
    except json.JSONDecodeError as error:
        raise ModelFolderError(f"{path}: not valid JSON ({error.msg}, line {error.lineno})") from None
    except RecursionError:
        raise ModelFolderError(f"{path}: nested too deeply to be a model's JSON file") from None
    if not isinstance(data, dict):
        raise ModelFolderError(f"{path}: holds a JSON {type(data).__name__}, not an object")
    return data


def check_config(path: Path) -> dict[str, Any]:
    """``config.json``: no remote code, and a model type transformers builds as a causal LM."""
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    config = read_json_object(path)
    if "auto_map" in config:
        raise ModelFolderError(f"{path}: names its own Python code (auto_map); bench never runs a model folder's code")
    model_type = config.get("model_type")
    if not isinstance(model_type, str) or model_type not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        raise ModelFolderError(f"{path}: model_type {model_type!r} is not a causal-LM type transformers knows")
    return config


def _check_sizes(path: Path, config: dict[str, Any]) -> None:
    for key in SIZE_FIELDS:  # a size the load would fail on much later
        value = config.get(key)
        if key in config and not (isinstance(value, int) and not isinstance(value, bool) and value > 0):
            raise ModelFolderError(f"{path}: {key} must be a positive integer, got {value!r}")


def check_no_special_files(folder: Path) -> None:
    """No FIFO, socket or device among the folder's entries: a library reading one would block or never end."""
    try:
        entries = sorted(folder.iterdir())
    except OSError as error:
        raise ModelFolderError(f"{folder}: cannot be listed: {error.strerror or error}") from None
    for path in entries:
        try:
            mode = os.stat(path).st_mode
        except OSError:
            continue  # a dangling link is not read by name unless it is a file bench needs (checked by name)
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            raise ModelFolderError(f"{path}: not a regular file (a FIFO, socket or device); remove it")


def check_no_remote_code(folder: Path) -> None:
    """Neither ``config.json`` nor ``tokenizer_config.json`` (where present) names Python code to run, and no entry
    is a FIFO or device that a load would block on."""
    check_no_special_files(folder)
    for name in ("config.json", "tokenizer_config.json"):
        path = folder / name
        if not path.exists():
            continue
        data = read_json_object(path)
        if "auto_map" in data:
            raise ModelFolderError(
                f"{path}: names its own Python code (auto_map); bench never runs a model folder's code"
            )
        if name == "config.json":  # the tokenizer's load reads it too
            _check_sizes(path, data)


def safetensors_elements(path: Path) -> int:
    """The tensor elements a ``.safetensors`` file declares, after checking its header against the file."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise ModelFolderError(f"{path}: not a regular file")
        size = info.st_size
        with open(path, "rb") as handle:
            prefix = handle.read(8)
            if len(prefix) < 8:
                raise ModelFolderError(f"{path}: too short for a safetensors file")
            (length,) = struct.unpack("<Q", prefix)
            if length > min(MAX_HEADER_BYTES, size - 8):
                raise ModelFolderError(f"{path}: the safetensors header claims {length} bytes; the file has {size}")
            raw = handle.read(length)
    except OSError as error:
        raise ModelFolderError(f"{path}: cannot read: {error.strerror or error}") from None
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise ModelFolderError(f"{path}: the safetensors header is not valid JSON") from None
    if not isinstance(header, dict):
        raise ModelFolderError(f"{path}: the safetensors header is not a JSON object")
    data_bytes = size - 8 - length
    total = 0
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        problem = _tensor_problem(entry, data_bytes)
        if problem:
            raise ModelFolderError(f"{path}: tensor {name!r}: {problem}")
        total += math.prod(entry["shape"])
    return total


def _tensor_problem(entry: Any, data_bytes: int) -> str | None:
    if not isinstance(entry, dict):
        return "not a tensor entry"
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if dtype not in DTYPE_BYTES:
        return f"unknown dtype {dtype!r}"
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        return f"shape {shape!r} is not a list of non-negative integers"
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)):
        return "data_offsets is not two integers"
    begin, end = offsets
    if not 0 <= begin <= end <= data_bytes:
        return f"data_offsets {offsets} lie outside the file's {data_bytes} data bytes"
    if end - begin != math.prod(shape) * DTYPE_BYTES[dtype]:
        return f"data_offsets {offsets} do not hold a {dtype} tensor of shape {shape}"
    return None


def machine_memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _field(config: dict[str, Any], *names: str) -> int | None:
    for name in names:
        value = config.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def estimated_parameters(config: dict[str, Any]) -> int | None:
    """Parameters of a decoder-only transformer from its config (embeddings, attention, MLP), or ``None``."""
    hidden = _field(config, "hidden_size", "n_embd", "d_model")
    layers = _field(config, "num_hidden_layers", "n_layer", "num_layers")
    vocab = _field(config, "vocab_size")
    if hidden is None or layers is None or vocab is None:
        return None
    inner = _field(config, "intermediate_size", "n_inner", "ffn_dim") or 4 * hidden
    return vocab * hidden + layers * (4 * hidden * hidden + 2 * hidden * inner)


def check_fits_memory(parameters: int, what: str) -> None:
    """Refuse a model whose fp32 training state cannot fit in this machine's memory."""
    memory = machine_memory_bytes()
    need = parameters * TRAINING_BYTES_PER_PARAMETER
    if memory is not None and need > memory:
        raise ModelFolderError(
            f"{what} describes about {parameters:,} parameters; training needs about {need / 1e9:,.1f} GB "
            f"(fp32 weights, gradients, AdamW moments), more than this machine's {memory / 1e9:,.1f} GB"
        )


def check_model_folder(folder: Path) -> None:
    """Every check of the module docstring, naming the first file that fails."""
    check_no_remote_code(folder)
    config = check_config(folder / "config.json")
    stored = sum(safetensors_elements(path) for path in sorted(folder.glob("*.safetensors")))
    check_fits_memory(max(estimated_parameters(config) or 0, stored), str(folder))
