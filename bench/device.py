"""The device a process computes on: one Accelerator per process (CPU here, CUDA when present, DDP under launch)."""

from __future__ import annotations

import torch
from accelerate import Accelerator


def make_accelerator(precision: str = "auto") -> Accelerator:
    """One Accelerator per process: CPU here, CUDA when present, DDP under ``accelerate launch``."""
    cuda = torch.cuda.is_available()
    if precision == "auto":
        precision = "bf16" if cuda else "no"
    # cpu=True lets several CPU processes (torchrun / mpirun) form a gloo process group: Accelerate's MULTI_CPU.
    return Accelerator(mixed_precision=precision, cpu=not cuda)
