"""Plain progress lines off a terminal, the run log, and the suite ETA."""

from __future__ import annotations

import io

from bench.records import GenerationRecord
from bench.run.progress import GenerationReporter, format_duration, format_line, log_path


def record(scenario: str = "replace", seed: int = 0, generation: int = 3, val_loss: float | None = 0.834):
    return GenerationRecord(
        run_id="micro-abc",
        suite="micro",
        scenario=scenario,
        seed=seed,
        generation=generation,
        metrics={"diversity_levenshtein": 0.612, "correct": 0.93, "n": 100.0},
        higher_is_better={},
        drops={},
        samples_path="",
        data_path="",
        checkpoint_path=None,
        train_iterations=100,
        best_val_loss=val_loss,
        train_seconds=41.2,
        sample_seconds=1.0,
        useful_tokens_per_second=0.0,
    )


def test_format_duration() -> None:
    assert format_duration(0.42) == "0.4 s"
    assert format_duration(41.2) == "41 s"
    assert format_duration(185) == "3 min 5 s"
    assert format_duration(2 * 3600 + 10 * 60 + 20) == "2 h 10 min"
    assert format_duration(50 * 3600) == "2 d 2 h"


def test_format_line() -> None:
    assert format_line(record(), 50, 7800) == (
        "replace seed 0 gen 3/49: train 41 s, val_loss 0.83, diversity 0.61, correct 0.93; suite ETA 2 h 10 min"
    )
    # A learner without training has no validation loss; the last generation says the suite is done.
    assert format_line(record(val_loss=None), 4, 0) == (
        "replace seed 0 gen 3/3: train 41 s, diversity 0.61, correct 0.93; suite ETA done"
    )


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_reporter_eta_stream_and_log(tmp_path) -> None:
    clock, stream = Clock(), io.StringIO()
    reporter = GenerationReporter(tmp_path, "micro-abc", generations=3, total=6, stream=stream, clock=clock)
    reporter.skipped(2)  # found done: not part of the rate, not left to do
    assert reporter.eta_seconds() is None and reporter.eta_text() == "…"
    clock.now += 30
    first = reporter.finished(record(generation=2))
    assert first.endswith("suite ETA 1 min 30 s")  # 30 s per generation, 3 left
    clock.now += 10
    reporter.finished(record(seed=1, generation=0))
    assert reporter.eta_seconds() == 40.0  # 20 s per generation, 2 left
    clock.now += 10
    reporter.finished(record(seed=1, generation=1))
    last = reporter.finished(record(seed=1, generation=2))
    assert last.endswith("suite ETA done")
    assert reporter.eta_text() == "done"
    printed = stream.getvalue().splitlines()
    assert printed[0] == first and printed[-1] == last and len(printed) == 4
    logged = log_path(tmp_path, "micro-abc").read_text().splitlines()
    # The log carries the same lines, each after a UTC timestamp.
    assert [line.split(" ", 1)[1] for line in logged] == printed
    assert all(line[:20].endswith("Z") for line in logged)


def test_reporter_without_stream_writes_only_the_log(tmp_path) -> None:
    reporter = GenerationReporter(tmp_path / "results", "r", generations=2, total=2, stream=None)
    reporter.finished(record(generation=0))
    assert len(log_path(tmp_path / "results", "r").read_text().splitlines()) == 1
    # Appended, not overwritten: a resumed run continues the same log.
    GenerationReporter(tmp_path / "results", "r", generations=2, total=1).finished(record(generation=1))
    assert len(log_path(tmp_path / "results", "r").read_text().splitlines()) == 2
