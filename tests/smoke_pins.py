"""What tests/data/smoke_metrics.json pins of the shipped smoke suite's numbers, and how to regenerate it.

Only what does not depend on the order in which a CPU sums floats is pinned (see tests/README.md):

* ``exact``: the rows no model touches (generation 0's data set: its size and its shares of real, synthetic and
  fresh samples). Compared exactly.
* ``generation0_losses``: generation 0's losses (``val_loss``, ``real_nll``), a model trained on real data only.
  Another CPU, or another thread count, sums floats in another order; over 120 steps of training that moves these
  losses in the 5th to 7th digit. Measured: ``real_nll`` 0.9177579 on an AMD EPYC against 0.9177554 on an Intel
  Xeon (2.7e-6 relative); ``val_loss`` 0.9629645 with one torch thread against 0.9629545 with two (1.04e-5), and,
  with the ``items`` validation split, seed 1's ``val_loss`` 0.9257896 with one thread against 0.9256069 with two
  (2.0e-4, the largest spread seen: early stopping can pick a neighbouring evaluation). They are compared at
  ``LOSS_REL`` = 1e-3: five times the largest spread seen, and still
  far below what a change to the model, the data, the tokenizer or the training loop moves.

Later generations train on samples, and sampling turns a float difference into different samples, so their values
are checked by range in the test (tests/test_cli.py), never against pins.

Regenerate after a change meant to change these numbers (and say so in its commit)::

    OMP_NUM_THREADS=1 python -m bench run suites/smoke.yaml --results /tmp/smoke --quiet
    python tests/smoke_pins.py /tmp/smoke > tests/data/smoke_metrics.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import duckdb

LOSS_REL = 1e-3
LOSS_METRICS = ("val_loss", "real_nll")
# Generation 0's data set is drawn from the task with the seed: no model, no float sums.
EXACT_PREFIX = "data_"


def metric_rows(results: Path) -> dict[tuple[str, int, int, str], float]:
    """(scenario, seed, generation, metric) -> value of every metric row in ``results``."""
    with duckdb.connect(str(Path(results) / "bench.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT scenario, seed, generation, metric, value FROM metrics").fetchall()
    return {(scenario, seed, generation, metric): value for scenario, seed, generation, metric, value in rows}


def pins_of(rows: dict[tuple[str, int, int, str], float]) -> dict[str, list[list]]:
    """The pinned subset of ``rows``, in the file's layout: sorted ``[scenario, seed, generation, metric, value]``."""
    generation0 = sorted((key, value) for key, value in rows.items() if key[2] == 0)
    return {
        "exact": [[*key, value] for key, value in generation0 if key[3].startswith(EXACT_PREFIX)],
        "generation0_losses": [[*key, value] for key, value in generation0 if key[3] in LOSS_METRICS],
    }


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python tests/smoke_pins.py RESULTS_DIR > tests/data/smoke_metrics.json", file=sys.stderr)
        return 2
    print(json.dumps(pins_of(metric_rows(Path(argv[0]))), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
