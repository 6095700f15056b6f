"""Cells per hour on GPUs at 1, 2, 4 and 8 cells per GPU: the nightly suite, packed with ``--cell-gpus 1/k``.

Usage, on any machine with NVIDIA GPUs and this project installed (the container works too)::

    python -m benchmarks.gpu_cells_per_hour                       # the nightly suite as it is (hours)
    python -m benchmarks.gpu_cells_per_hour --generations 2 --max-iters 300   # a quicker look (minutes)

For each packing k it runs ``bench run SUITE --workers k·G --cell-gpus 1/k`` (G = GPUs seen) into a fresh results
directory, with enough seeds that every slot has a cell, and counts finished cells per wall-clock hour per GPU
(Ray's start-up included, as a user would see it). It prints a Markdown table and writes it, with the raw numbers,
to ``--out`` (default ``results/gpu_cells_per_hour.json``). Nothing is downloaded; models train from scratch.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
PACKINGS = (1, 2, 4, 8)


def gpu_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def packed_suite(source: Path, cells: int, generations: int | None, max_iters: int | None, target: Path) -> int:
    """The suite with enough seeds for ``cells`` cells (and optionally shorter); returns its cell count."""
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    scenarios = len(data["scenarios"])
    data["seeds"] = list(range(max(1, math.ceil(cells / scenarios))))
    if generations is not None:
        data["generations"] = generations
    if max_iters is not None:
        data.setdefault("training", {})["max_iters"] = max_iters
    data["suite"] = f"{data['suite']}-packing"
    target.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return scenarios * len(data["seeds"])


def measure(suite: Path, cells: int, per_gpu: int, gpus: int, results: Path) -> dict[str, float]:
    """Run the suite with ``per_gpu`` cells per GPU; wall seconds and cells per hour per GPU."""
    workers = per_gpu * gpus
    cpus = max(1, (os.cpu_count() or 1) // workers)
    command = [sys.executable, "-m", "bench", "run", str(suite), "--results", str(results), "--quiet"]
    command += ["--workers", str(workers), "--cell-gpus", f"{1 / per_gpu:g}", "--cell-cpus", str(cpus)]
    started = time.perf_counter()
    subprocess.run(command, check=True, cwd=ROOT)
    seconds = time.perf_counter() - started
    return {"cells_per_gpu": per_gpu, "workers": workers, "cell_cpus": cpus, "cells": cells, "seconds": seconds}


def table(rows: list[dict[str, float]], gpus: int) -> str:
    lines = [
        "| cells per GPU | cells | wall time (s) | cells per hour per GPU | vs 1 per GPU |",
        "|---|---|---|---|---|",
    ]
    base = None
    for row in rows:
        rate = row["cells"] / (row["seconds"] / 3600) / gpus
        base = base or rate
        lines.append(
            f"| {row['cells_per_gpu']} | {row['cells']} | {row['seconds']:.0f} | {rate:.1f} | {rate / base:.2f}× |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.gpu_cells_per_hour", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--suite", type=Path, default=ROOT / "suites" / "nightly.yaml")
    parser.add_argument("--packings", default=",".join(map(str, PACKINGS)), help="cells per GPU (default 1,2,4,8)")
    parser.add_argument("--generations", type=int, help="fewer generations than the suite's, for a quicker look")
    parser.add_argument("--max-iters", type=int, help="fewer training iterations than the suite's")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "gpu_cells_per_hour.json")
    args = parser.parse_args(argv)
    gpus = gpu_count()
    if gpus == 0:
        print("error: no CUDA GPU visible; run this on a GPU machine", file=sys.stderr)
        return 2
    packings = [int(k) for k in args.packings.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for per_gpu in packings:
            suite = Path(tmp) / f"packing-{per_gpu}.yaml"
            # Twice the slots in cells, so each packing runs two waves and a lone slow cell weighs less.
            cells = packed_suite(args.suite, 2 * per_gpu * gpus, args.generations, args.max_iters, suite)
            rows.append(measure(suite, cells, per_gpu, gpus, Path(tmp) / f"results-{per_gpu}"))
            print(json.dumps(rows[-1]), flush=True)
    import torch

    text = table(rows, gpus)
    print(f"{gpus} × {torch.cuda.get_device_name(0)}, suite {args.suite.name}")
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"gpu": torch.cuda.get_device_name(0), "gpus": gpus, "rows": rows, "table": text}, indent=2) + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
