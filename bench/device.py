"""The device a process computes on: one Accelerator per process (CPU here, CUDA when present, DDP under launch)."""

from __future__ import annotations

import os

import torch
from accelerate import Accelerator


def make_accelerator(precision: str = "auto") -> Accelerator:
    """One Accelerator per process: CPU here, CUDA when present, DDP under ``accelerate launch``."""
    cuda = torch.cuda.is_available()
    if precision == "auto":
        precision = "bf16" if cuda else "no"
    # cpu=True lets several CPU processes (torchrun / mpirun) form a gloo process group: Accelerate's MULTI_CPU.
    return Accelerator(mixed_precision=precision, cpu=not cuda)


# Set to 1 by the container image: there a missing GPU is a mistake (a forgotten --gpus flag, a broken driver),
# and a GPU suite would silently crawl on CPU for hours instead.
REQUIRE_GPU_ENV = "BENCH_REQUIRE_GPU"


def cpu_refusal(allow_cpu: bool) -> str | None:
    """Why this process must not train here (``BENCH_REQUIRE_GPU`` set and no CUDA device visible), else None."""
    if allow_cpu or os.environ.get(REQUIRE_GPU_ENV, "").strip().lower() not in ("1", "true", "yes"):
        return None
    if torch.cuda.is_available():
        return None
    return (
        f"no CUDA device is visible and {REQUIRE_GPU_ENV}=1 (as in the container): "
        "give the container a GPU (docker run --gpus all), or pass --allow-cpu to train on CPU"
    )
