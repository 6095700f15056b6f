"""The parallel driver's queue: a shared generation-0 learner is never fitted by two cells at once."""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.run.parallel import _Queue


@dataclass(frozen=True)
class Cell:
    """The fields of a CellPlan that the queue reads."""

    name: str
    generation_zero_key: str
    done: frozenset[int] = field(default_factory=frozenset)


def make_queue(tmp_path, cells, fitted=frozenset()) -> _Queue:
    """A queue over ``cells``; ``fitted``: the keys whose learner is in the cache, usable as it is."""
    return _Queue(cells, set(fitted))


def test_the_cells_of_a_key_wait_for_its_first_cell_to_store_generation_zero(tmp_path):
    a0, a1, b0, b1 = Cell("a 0", "k0"), Cell("a 1", "k1"), Cell("b 0", "k0"), Cell("b 1", "k1")
    queue = make_queue(tmp_path, [a0, a1, b0, b1])
    assert queue.take() is a0 and queue.take() is a1  # one cell per key fits it
    assert queue.take() is None  # b 0 and b 1 would fit k0 and k1 a second time
    queue.stored(a1, 1)  # a later generation says nothing about generation 0
    assert queue.take() is None
    queue.stored(a1, 0)
    assert queue.take() is b1 and queue.take() is None
    queue.ended(a0)  # a 0 failed before storing generation 0: the next cell of k0 fits it
    assert queue.take() is b0 and len(queue) == 0


def test_cells_with_a_stored_generation_zero_or_a_cached_learner_start_at_once(tmp_path):
    cells = [Cell("a 0", "k0"), Cell("b 0", "k0"), Cell("c 1", "k1", frozenset({0})), Cell("d 1", "k1")]
    queue = make_queue(tmp_path, cells, fitted={"k0"})
    assert [queue.take().name for _ in range(2)] == ["a 0", "b 0"]  # k0 is in the cache
    assert queue.take().name == "c 1"  # its generation 0 is stored: it fits nothing
    assert queue.take().name == "d 1" and queue.take() is None


def test_a_cell_that_ends_without_fitting_releases_nothing_it_does_not_hold(tmp_path):
    a0, b0 = Cell("a 0", "k0"), Cell("b 0", "k0")
    queue = make_queue(tmp_path, [a0, b0])
    assert queue.take() is a0
    queue.ended(b0)  # not the cell fitting k0
    assert queue.take() is None


def test_only_the_cell_that_fits_a_key_is_its_fitter(tmp_path):
    # The driver's progress line says "train cached" for every other cell's generation 0 (and its ETA skips them).
    a0, b0, c1 = Cell("a 0", "k0"), Cell("b 0", "k0"), Cell("c 1", "k1")
    queue = make_queue(tmp_path, [a0, b0, c1], fitted={"k1"})
    assert queue.take() is a0 and queue.fits(a0)
    assert queue.take() is c1 and not queue.fits(c1)  # k1 comes from the cache
    queue.stored(a0, 0)
    assert queue.take() is b0 and not queue.fits(b0) and not queue.fits(a0)


def test_a_damaged_cached_learner_is_not_taken_as_fitted(micro_run, tmp_path):
    # The first cell that meets a damaged cache refits it; if the queue took the key as fitted, every cell of the
    # key would start at once and each would delete and refit the same folder.
    import shutil

    from bench.run.parallel import _cached_keys
    from bench.run.session import RunPlan, Shard
    from bench.store.database import Store
    from bench.suite.config import load_suite

    suite_path, results, _ = micro_run
    copy = tmp_path / "results"
    shutil.copytree(results, copy)
    store = Store(copy)
    cells = RunPlan.make(load_suite(suite_path), suite_path, store, Shard()).cells
    keys = {cell.generation_zero_key for cell in cells}
    assert _cached_keys(cells, store) == keys
    damaged = sorted(keys)[0]
    weights = next(p for p in sorted((store.generation_zero_dir(damaged) / "model").iterdir()) if p.is_file())
    weights.write_bytes(weights.read_bytes() + b"\0")
    assert _cached_keys(cells, store) == keys - {damaged}


def test_the_drivers_slot_reports_any_end_of_its_cell(monkeypatch, tmp_path):
    # A cell whose code raises SystemExit (not an Exception) must still reach the driver as ended, or the driver
    # would wait on a busy slot forever.
    from types import SimpleNamespace

    from bench.run import parallel

    def exits(job):
        yield parallel.CellStarted(host="here")
        raise SystemExit(3)

    monkeypatch.setattr(parallel, "run_cell", exits)
    slot = parallel._LocalSlot(SimpleNamespace(root=tmp_path), parallel.ParallelOptions(workers=2), "token")
    cell = Cell("a 0", "k0")
    slot.start(cell)
    slot._thread.join(timeout=30)
    items = [item for _, item in slot.drain(block=False)]
    assert isinstance(items[0], parallel.CellStarted)
    assert isinstance(items[-1], parallel._Ended) and isinstance(items[-1].error, SystemExit)
    assert not slot.busy and "a 0" in slot.began
