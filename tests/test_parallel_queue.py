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


class Store:
    def __init__(self, root, fitted: set[str]) -> None:
        self.root, self.fitted = root, fitted

    def generation_zero_dir(self, key: str):
        return self.root / (f"fitted-{key}" if key in self.fitted else f"missing-{key}")


def make_queue(tmp_path, cells, fitted=frozenset()) -> _Queue:
    for key in fitted:
        (tmp_path / f"fitted-{key}").mkdir()
        (tmp_path / f"fitted-{key}" / "fit.json").write_text("{}")
    return _Queue(cells, Store(tmp_path, set(fitted)))


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
