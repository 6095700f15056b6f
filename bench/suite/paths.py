"""Relative file paths in a suite file are read from the suite file's folder, as a build file's are.

A text suite names a corpus, a tokenizer folder and a pretrained model. Read from the directory ``bench`` runs in,
the same suite works from one directory and not from the next; read from the suite file's folder, it works from
anywhere. :func:`resolve_suite_paths` rewrites each relative path of a suite's data to the same file seen from the
working directory (``os.path.relpath``), before ``--set`` overrides are applied (a path typed on the command line is
the user's, relative to where they are). Run from the repository root, ``../corpora/x.txt`` in ``suites/`` becomes
``corpora/x.txt``: the run id does not depend on how the suite's own path was spelt.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

# (section, key) of the path fields: the text task's inputs and a transformer's pretrained folder.
TASK_PATH_PARAMS: tuple[str, ...] = ("corpus", "tokenizer")
METRICS_PATH_KEYS: tuple[str, ...] = ("features", "reference_model")


def _resolved(value: Any, folder: str) -> Any:
    if isinstance(value, dict):  # a corpus named by part: {train: ..., validation: ..., test: ...}
        return {key: _resolved(part, folder) for key, part in value.items()}
    if not isinstance(value, str) or not value or os.path.isabs(value):
        return value
    return os.path.relpath(os.path.join(folder, value))


def _fix_model(model: Any, folder: str) -> None:
    if isinstance(model, dict) and "pretrained" in model:
        model["pretrained"] = _resolved(model["pretrained"], folder)


def _fix_metrics(metrics: Any, folder: str) -> None:
    if isinstance(metrics, dict):  # the text world's fixed scorers (MAUVE features, reference perplexity)
        for key in METRICS_PATH_KEYS:
            if key in metrics:
                metrics[key] = _resolved(metrics[key], folder)


def resolve_suite_paths(data: Any, suite_path: str | Path) -> Any:
    """``data`` (a parsed suite file) with its relative corpus, tokenizer and pretrained paths read from the folder
    of ``suite_path``; anything that is not a suite-shaped mapping is returned as it is (validation reports it)."""
    if not isinstance(data, dict):
        return data
    folder = os.path.dirname(str(suite_path)) or "."
    task = data.get("task")
    params = task.get("params") if isinstance(task, dict) else None
    if isinstance(params, dict):
        for key in TASK_PATH_PARAMS:
            if key in params:
                params[key] = _resolved(params[key], folder)
    _fix_model(data.get("model"), folder)
    _fix_metrics(data.get("metrics"), folder)
    for scenario in data.get("scenarios") or []:
        if isinstance(scenario, dict):
            _fix_model(scenario.get("model"), folder)
            _fix_metrics(scenario.get("metrics"), folder)
    return data
