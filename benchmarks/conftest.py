"""Shared set-up of the speed benchmarks: one torch device, a fixed thread count, and how to describe both.

Only ratios measured side by side in one run mean anything on a shared machine, and even those suffer when
torch's worker threads fight other processes for the cores: on a busy 2-core CPU a 2-thread matmul ran 10x
slower than a 1-thread one. So on CPU the benchmarks run torch single-threaded unless ``BENCH_THREADS`` says
otherwise (``BENCH_THREADS=0`` keeps torch's own default).
"""

from __future__ import annotations

import os
import platform
from typing import Any

import pytest
import torch

DEFAULT_CPU_THREADS = 1


def pick_device() -> torch.device:
    """CUDA when present, else CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def cpu_name() -> str:
    """The processor's model name (``/proc/cpuinfo`` on Linux, else what ``platform`` knows)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown cpu"


def describe_device(device: torch.device) -> dict[str, Any]:
    """What a benchmark ran on, for ``extra_info`` (the summary copies it into perf.json)."""
    if device.type == "cuda":
        name = f"cuda: {torch.cuda.get_device_name(device)}"
    else:
        name = f"cpu: {cpu_name()}, {torch.get_num_threads()} torch threads, {os.cpu_count()} cores"
    return {"device": name, "torch_version": torch.__version__, "torch_threads": torch.get_num_threads()}


@pytest.fixture(scope="session")
def device() -> torch.device:
    """The device every torch benchmark uses; sets the CPU thread count once per session."""
    chosen = pick_device()
    threads = int(os.environ.get("BENCH_THREADS", DEFAULT_CPU_THREADS if chosen.type == "cpu" else 0))
    if threads > 0:
        torch.set_num_threads(threads)
    return chosen


@pytest.fixture(scope="session")
def device_info(device: torch.device) -> dict[str, Any]:
    """``describe_device`` of the session's device, after its thread count is set."""
    return describe_device(device)


@pytest.fixture(scope="session")
def synchronize(device: torch.device):
    """A function that waits for queued GPU work, so that a wall-clock reading covers it."""

    def wait() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    return wait
