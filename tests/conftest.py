"""Shared fixtures: a micro suite small enough to run whole loops in seconds on a CPU."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent

MICRO = {
    "suite": "micro",
    "seeds": [0, 1],
    "generations": 3,
    "checkpoints": "last",
    "task": {"name": "logic", "params": {"max_depth": 3}},
    "data": {"size": 120},
    "model": {"preset": "tiny", "overrides": {"n_embd": 32}},
    "training": {
        "max_iters": 16,
        "batch_size": 4,
        "block_size": 64,
        "learning_rate": 0.003,
        "warmup_iters": 2,
        "eval_interval": 8,
        "patience": 2,
    },
    "sampling": {"batch_size": 120},
    "scenarios": [
        {"name": "replace", "regime": {"kind": "replace"}},
        {"name": "filtered", "regime": {"kind": "replace"}, "mitigations": [{"name": "verifier_filter"}]},
    ],
}


def write_suite(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture
def micro_suite(tmp_path) -> Path:
    return write_suite(tmp_path / "micro.yaml", MICRO)
