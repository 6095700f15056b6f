"""``bench export --format tensorboard|mlflow DIR``: a run's per-generation metrics for an experiment tracker."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.cli.common import add_results_options, selected_run
from bench.cli.errors import BadInput


def register(sub: argparse._SubParsersAction) -> None:
    export = sub.add_parser("export", help="per-generation metrics to TensorBoard or MLflow (pip install .[export])")
    add_results_options(export)
    export.add_argument("--format", required=True, choices=("tensorboard", "mlflow"))
    export.add_argument("dir", help="TensorBoard log directory, or the folder of an MLflow SQLite store")
    export.set_defaults(handler=cmd_export)


# What each format imports, from the `export` extra.
FORMAT_MODULES = {"tensorboard": ("tensorboard",), "mlflow": ("mlflow", "sqlalchemy", "alembic")}


def cmd_export(args: argparse.Namespace) -> int:
    from bench import extras
    from bench.analysis.export import ExportError, export_run
    from bench.store.database import Store

    try:  # before the results are read: a missing extra is bad input, said in one line
        extras.require("export", f"--format {args.format}", modules=FORMAT_MODULES[args.format])
    except extras.MissingExtra as error:
        raise BadInput(str(error)) from None
    run, rows = selected_run(args)
    try:
        summary = export_run(args.format, Path(args.dir), run, rows, Store(args.results).generation_times(run.run_id))
    except ExportError as error:
        raise BadInput(str(error)) from None
    print(summary)
    return 0
