"""``bench validate SUITE --estimate``: what a run will cost before it starts.

Counts come from the settings: optimizer steps (at most ``max_iters`` per fit; generation 0 is fitted once per seed
and set of settings it depends on, as the loop shares it), samples drawn, and checkpoint disk use. The time comes
from a **short timed probe on this machine**: for each distinct learner setup (model, training, task, data) the
probe fits the real learner on real task data for a few optimizer steps, times one validation pass, samples a batch,
scores the held-out test set and saves a checkpoint, through the same learner seam a run uses. The rates it
measures, times the counts, give the estimate. It is an upper bound on training (early stopping can end fits
sooner) and a rough one on sampling (an almost untrained model samples to the longest length, in a smaller batch);
computing the sample metrics and storing artifacts are not in it.

One probe on a shared machine can be off several times over, so the estimate is a **range**: the probe's fastest
and slowest optimizer steps bound it, the machine's load average at probe time is reported beside it, and where a
results directory holds earlier runs of the same learner setup on the same device, their measured fits and samples
(:mod:`bench.run.estimate_history`) give the central value and widen the range to what those runs took.
"""

from __future__ import annotations

import math
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.run.loop import generation_zero_key_of
from bench.run.progress import format_duration
from bench.seeding import derive_seed
from bench.suite.config import ResolvedScenario, Suite

PROBE_STEPS = 5
PROBE_SAMPLES = 64
PROBE_DATA = 2048
"""Most data items (and test items) the probe generates: a data set of millions would cost the probe gigabytes.
Times that grow with the data (a validation pass, a fit without steps, a test-set score) are measured on at most
this many items and scaled linearly to the suite's sizes."""


@dataclass(frozen=True)
class Rates:
    """What one probe measured for one learner setup."""

    seconds_per_step: float | None  # None: the learner takes no optimizer steps
    validation_seconds: float  # one validation pass during training
    fit_seconds: float  # a whole fit of a learner without steps (0 for one with steps)
    seconds_per_sample: float
    nll_seconds: float  # scoring the held-out real test set once
    checkpoint_bytes: int
    steps: int
    samples: int
    # The fastest and slowest of the probe's steps after the first (None without steps): the range's ends.
    step_range: tuple[float, float] | None = None


def _setup_key(s: ResolvedScenario) -> str:
    return "|".join(
        part.model_dump_json()
        for part in (s.model, s.training, s.task, s.data)  # what the fit depends on
    )


def _directory_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def probe(scenario: ResolvedScenario, seed: int, accelerator, steps: int = PROBE_STEPS) -> Rates:
    """Time a few optimizer steps, a batch of samples, one test-set score and one checkpoint of ``scenario``."""
    from bench.learners import LearnerSetup
    from bench.tasks import get_task

    task = get_task(scenario.task.name, **scenario.task.params)
    steps = max(1, min(steps, scenario.training.max_iters))
    # A fit of `steps` steps with one validation at its end; every other setting as the suite has it.
    training = scenario.training.model_copy(update={"max_iters": steps, "eval_interval": steps, "warmup_iters": 0})
    setup = LearnerSetup(task=task, training=training, accelerator=accelerator)
    data_scale = scenario.data.size / min(scenario.data.size, PROBE_DATA)
    data = task.generate(min(scenario.data.size, PROBE_DATA), seed=derive_seed(seed, "real"))
    held_out = max(1, round(scenario.data.validation_fraction * len(data)))
    learner = scenario.model.create(setup, seed=derive_seed(seed, "init", 0))

    stamps: list[float] = []
    fit = learner.fit(
        data[held_out:],
        data[:held_out],
        seed=derive_seed(seed, "train", 0),
        progress=lambda done, total, loss=None: stamps.append(time.perf_counter()),
    )
    validation = 0.0
    step_range = None
    if fit.iterations == 0:
        per_step, fit_seconds = None, fit.seconds * data_scale
    else:
        fit_seconds = 0.0
        # The first step carries one-off costs (allocation, kernels): the median of the later ones, which a busy
        # machine's occasional stall does not move.
        gaps = [later - earlier for earlier, later in zip(stamps, stamps[1:], strict=False)]
        per_step = statistics.median(gaps) if gaps else fit.seconds / fit.iterations
        step_range = (min(gaps), max(gaps)) if gaps else (per_step, per_step)
        # A validation pass is the held-out loss, what `nll` computes; the fit has warmed it up already.
        started = time.perf_counter()
        learner.nll(data[:held_out])
        validation = (time.perf_counter() - started) * data_scale

    n = max(1, min(PROBE_SAMPLES, scenario.sampling.n or scenario.data.size))
    prompts = None
    if hasattr(task, "prefixes") and scenario.sampling.resolved_mode(True) == "continue":
        # Text, continue mode: prompts from R and forced-length continuations, as the loop samples them.
        from bench.text.protocol import prompts_from_original

        prompts = {"prompts": prompts_from_original(task, scenario, data, n, seed, 0)}
    started = time.perf_counter()
    learner.sample(n, seed=derive_seed(seed, "sample", 0), settings=scenario.sampling, progress=None, **(prompts or {}))
    per_sample = (time.perf_counter() - started) / n

    test_size = scenario.data.resolved_test_size()
    test = task.generate(min(test_size, PROBE_DATA), seed=derive_seed(seed, "test"))
    started = time.perf_counter()
    learner.nll(test)
    nll_seconds = (time.perf_counter() - started) * test_size / len(test)

    with tempfile.TemporaryDirectory(prefix="bench-estimate-") as tmp:
        learner.save(Path(tmp) / "model")
        checkpoint = _directory_bytes(Path(tmp) / "model")
    return Rates(per_step, validation, fit_seconds, per_sample, nll_seconds, checkpoint, fit.iterations, n, step_range)


@dataclass(frozen=True)
class Estimate:
    generations: int
    fits: int
    optimizer_steps: int
    samples: int
    checkpoint_bytes: int
    seconds: float
    device: str
    probes: int
    probe_steps: int
    probe_samples: int
    rates: tuple[Rates, ...] = ()
    seconds_low: float = 0.0
    seconds_high: float = 0.0
    load: tuple[float, int] | None = None  # 1-minute load average at probe time, CPUs
    stored_fits: int = 0  # fits of earlier runs the estimate used
    stored_runs: int = 0


def _load() -> tuple[float, int] | None:
    try:
        return os.getloadavg()[0], os.cpu_count() or 1
    except (AttributeError, OSError):  # not every platform has a load average
        return None


def estimate(suite: Suite, results: str | Path | None = None) -> Estimate:
    """Counts from the settings and, from one probe per distinct learner setup, the time on this machine; with
    ``results``, the timings its earlier runs of the same setups recorded on this device as well."""
    from bench.device import make_accelerator
    from bench.run.estimate_history import setup_key, stored_rates
    from bench.run.sequential import describe_device

    accelerator = make_accelerator(suite.training.precision)
    device = describe_device(accelerator.device, accelerator.num_processes)
    history = stored_rates(results, device) if results is not None else {}
    load = _load()
    scenarios = suite.resolved_scenarios()
    generations = suite.generations
    rates: dict[str, Rates] = {}
    fitted_zero: set[tuple[str, int]] = set()
    fits = steps = samples = disk = 0
    seconds = low = high = 0.0
    used: dict[str, object] = {}
    for s in scenarios:
        key = _setup_key(s)
        if key not in rates:
            rates[key] = probe(s, suite.seeds[0], accelerator)
        r = rates[key]
        stored = history.get(setup_key(s.model_dump(mode="json")))
        if stored is not None:
            used[key] = stored
        per_generation = s.sampling.n or s.data.size
        # Checkpoints left when the run ends: all generations, the last one, or none (warm starts keep the last).
        kept = {"all": generations, "last": 1, "none": 1 if s.model.warm_start else 0}[suite.checkpoints]
        for seed in suite.seeds:
            zero = (generation_zero_key_of(s, seed), seed)
            cell_fits = generations - 1
            if zero not in fitted_zero:  # generation 0 is fitted once per key and seed, and cached
                fitted_zero.add(zero)
                cell_fits += 1
                disk += r.checkpoint_bytes
            fits += cell_fits
            samples += generations * per_generation
            disk += kept * r.checkpoint_bytes
            sampling = generations * (per_generation * r.seconds_per_sample + r.nll_seconds)
            if r.seconds_per_step is not None:
                steps += cell_fits * s.training.max_iters
                validations = math.ceil(s.training.max_iters / s.training.eval_interval)
                fixed = validations * r.validation_seconds
                probe_fit = cell_fits * (s.training.max_iters * r.seconds_per_step + fixed)
                fast, slow = r.step_range or (r.seconds_per_step, r.seconds_per_step)
                fit_low = cell_fits * (s.training.max_iters * fast + fixed)
                fit_high = cell_fits * (s.training.max_iters * slow + fixed)
            else:
                probe_fit = fit_low = fit_high = cell_fits * r.fit_seconds
            if stored is None:
                seconds += probe_fit + sampling
                low += fit_low + sampling
                high += fit_high + sampling
                continue
            # Earlier whole fits of this setup here: their median is the estimate, their extremes widen the range.
            fit_min, fit_median, fit_max = stored.fit_seconds
            per_sample = stored.seconds_per_sample or (r.seconds_per_sample,) * 3
            sample_count = generations * per_generation
            seconds += cell_fits * fit_median + sample_count * per_sample[1] + generations * r.nll_seconds
            low += min(fit_low, cell_fits * fit_min) + sample_count * min(per_sample[0], r.seconds_per_sample)
            high += max(fit_high, cell_fits * fit_max) + sample_count * max(per_sample[2], r.seconds_per_sample)
            high += generations * r.nll_seconds
    first = next(iter(rates.values()))
    return Estimate(
        generations=len(scenarios) * len(suite.seeds) * generations,
        fits=fits,
        optimizer_steps=steps,
        samples=samples,
        checkpoint_bytes=disk,
        seconds=seconds,
        device=device,
        probes=len(rates),
        probe_steps=first.steps,
        probe_samples=first.samples,
        rates=tuple(rates.values()),
        seconds_low=min(low, seconds),
        seconds_high=max(high, seconds),
        load=load,
        stored_fits=sum(v.fits for v in used.values()),  # type: ignore[attr-defined]
        stored_runs=max((v.runs for v in used.values()), default=0),  # type: ignore[attr-defined]
    )


def format_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def format_estimate(e: Estimate, checkpoints: str) -> list[str]:
    """The lines ``bench validate --estimate`` prints under the validation line."""
    steps = (
        f"at most {e.optimizer_steps:,} ({e.fits:,} fits; early stopping can end fits sooner)"
        if e.optimizer_steps
        else f"none (the learner takes no optimizer steps; {e.fits:,} fits)"
    )
    return [
        f"  optimizer steps  {steps}",
        f"  samples drawn    {e.samples:,}",
        f"  checkpoint disk  {format_bytes(e.checkpoint_bytes)} when finished (checkpoints: {checkpoints}, "
        "and the shared generation-0 cache)",
        f"  time             about {format_duration(e.seconds)} on this machine ({e.device}); "
        f"range {format_duration(e.seconds_low)} to {format_duration(e.seconds_high)} (the probe's fastest and "
        f"slowest steps{', and earlier runs’ fastest and slowest fits' if e.stored_fits else ''})",
        *([f"                   {_load_text(e.load)}"] if e.load else []),
        *(
            [
                f"                   central value from {e.stored_fits} fit(s) of the same learner setup in "
                f"{e.stored_runs} earlier run(s) on this device; the probe below widens the range"
            ]
            if e.stored_fits
            else []
        ),
        f"                   from a timed probe of {e.probes} learner setup(s): {e.probe_steps} optimizer steps, "
        f"{e.probe_samples} samples, one validation pass and one test-set score each; metrics and storage not included",
        *(f"                   measured: {_rates_text(r)}" for r in e.rates),
    ]


def _load_text(load: tuple[float, int]) -> str:
    average, cpus = load
    state = (
        "busy: other work shares the CPUs, so a quiet machine is nearer the low end"
        if average > 0.75 * cpus
        else "quiet"
    )
    return f"machine load at probe time: {average:.1f} (1-minute average) on {cpus} CPU(s), {state}"


def _rates_text(r: Rates) -> str:
    fit = (
        f"{r.seconds_per_step:.3g} s per step, {r.validation_seconds:.3g} s per validation"
        if r.seconds_per_step is not None
        else f"{r.fit_seconds:.3g} s per fit"
    )
    return f"{fit}, {r.seconds_per_sample:.3g} s per sample, {r.nll_seconds:.3g} s per test-set score"
