"""Shared set-up of the speed benchmarks: one torch device, a fixed thread count, and how to describe both.

Only ratios measured side by side in one run mean anything on a shared machine, and even those suffer when
torch's worker threads fight other processes for the cores: on a busy 2-core CPU a 2-thread matmul ran 10x
slower than a 1-thread one. So on CPU the benchmarks run torch single-threaded unless ``BENCH_THREADS`` says
otherwise (``BENCH_THREADS=0`` keeps torch's own default).

``make test`` runs every benchmark once with ``--benchmark-disable`` (the default in pyproject.toml's addopts), so
an import or a signature change fails there and not months later in ``make bench``. Under ``--benchmark-disable``
the benchmarks run in a fast mode: ``sized(full, fast)`` gives their tiny sizes, and ``measure`` times one round by
hand, since pytest-benchmark keeps no statistics then. ``make bench`` passes ``--benchmark-enable``.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
import torch

DEFAULT_CPU_THREADS = 1
FAST_ENV = "BENCH_FAST"
T = TypeVar("T")


def pytest_configure(config: pytest.Config) -> None:
    """Fast mode when the benchmarks are disabled (``make test``); said through the environment so that the
    benchmark modules, imported after this, size their workloads with it."""
    disabled = config.getoption("benchmark_disable", False) and not config.getoption("benchmark_enable", False)
    if disabled:
        os.environ[FAST_ENV] = "1"


def fast_mode() -> bool:
    """Whether this session runs the benchmarks once each at tiny sizes (``--benchmark-disable``)."""
    return os.environ.get(FAST_ENV) == "1"


def sized(full: T, fast: T) -> T:
    """``full`` when measuring (``make bench``), ``fast`` when the benchmarks only run once (``make test``)."""
    return fast if fast_mode() else full


def measure(
    benchmark, target: Callable[..., T], args: tuple = (), rounds: int = 1, setup: Callable[[], None] | None = None
) -> tuple[T, float, float]:
    """``target(*args)`` through ``benchmark.pedantic``: its result and the mean and minimum seconds of a round.

    With benchmarks disabled pytest-benchmark calls ``target`` once and keeps no statistics; the one round is then
    timed here, so the callers record the same keys either way.
    """
    if benchmark.enabled:
        result = benchmark.pedantic(target, args=args, setup=setup, rounds=rounds, iterations=1)
        return result, benchmark.stats.stats.mean, benchmark.stats.stats.min
    seconds: list[float] = []

    def timed(*call_args):
        started = time.perf_counter()
        value = target(*call_args)
        seconds.append(time.perf_counter() - started)
        return value

    result = benchmark.pedantic(timed, args=args, setup=setup)  # disabled: set-up, then one call
    return result, seconds[0], seconds[0]


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
