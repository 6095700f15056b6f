"""Relative file paths in a suite file are read from the suite file's folder, as a build file's are.

A text suite names a corpus, a tokenizer folder and a pretrained model. Read from the directory ``bench`` runs in,
the same suite works from one directory and not from the next; read from the suite file's folder, it works from
anywhere. :func:`resolve_suite_paths` rewrites each relative path of a suite's data to the same file seen from the
working directory (``os.path.relpath``), before ``--set`` overrides are applied (a path typed on the command line is
the user's, relative to where they are); that is what the run opens.

The run id must not depend on where ``bench`` was started, so what it hashes spells each relative path from the
suite file's folder again (:func:`paths_from_folder`): ``../corpora/x.txt`` in ``suites/`` is ``../corpora/x.txt``
whether the suite ran from the checkout root or from anywhere else, and a ``--set`` path names the same file
whichever folder it was typed in. The files' contents enter the run id as digests (``bench/suite/input_digests.py``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

# (section, key) of the path fields: the text task's inputs and a transformer's pretrained folder.
TASK_PATH_PARAMS: tuple[str, ...] = ("corpus", "tokenizer")
METRICS_PATH_KEYS: tuple[str, ...] = ("features", "reference_model")


def _each_relative(value: Any, rewrite: Callable[[str], str]) -> Any:
    if isinstance(value, dict):  # a corpus named by part: {train: ..., validation: ..., test: ...}
        return {key: _each_relative(part, rewrite) for key, part in value.items()}
    if not isinstance(value, str) or not value or os.path.isabs(value):
        return value
    return rewrite(value)


def _fix_keys(section: Any, keys: tuple[str, ...], rewrite: Callable[[str], str]) -> None:
    if isinstance(section, dict):
        for key in keys:
            if key in section:
                section[key] = _each_relative(section[key], rewrite)


def _rewrite_paths(data: Any, rewrite: Callable[[str], str]) -> Any:
    """``data`` (suite-shaped: top-level sections and ``scenarios``) with ``rewrite`` applied, in place, to each
    relative path of its corpus, tokenizer, pretrained model and scoring models; anything that is not a suite-shaped
    mapping is returned as it is (validation reports it)."""
    if not isinstance(data, dict):
        return data
    task = data.get("task")
    _fix_keys(task.get("params") if isinstance(task, dict) else None, TASK_PATH_PARAMS, rewrite)
    for section in [data, *(s for s in data.get("scenarios") or [] if isinstance(s, dict))]:
        _fix_keys(section.get("model"), ("pretrained",), rewrite)
        _fix_keys(section.get("metrics"), METRICS_PATH_KEYS, rewrite)  # the text world's fixed scorers
        scenario_task = section.get("task") if section is not data else None
        if isinstance(scenario_task, dict):  # a resolved scenario carries the task's settings
            _fix_keys(scenario_task.get("params"), TASK_PATH_PARAMS, rewrite)
    return data


def resolve_suite_paths(data: Any, suite_path: str | Path) -> Any:
    """``data`` (a parsed suite file) with its relative corpus, tokenizer and pretrained paths read from the folder
    of ``suite_path``, spelt from the working directory."""
    folder = os.path.dirname(str(suite_path)) or "."
    return _rewrite_paths(data, lambda value: os.path.relpath(os.path.join(folder, value)))


def path_from_folder(path: str, folder: str) -> str:
    """A relative ``path`` (from the working directory) spelt from ``folder``; an absolute one as it is."""
    return path if os.path.isabs(path) else os.path.relpath(os.path.abspath(path), folder)


def absolute_paths(data: Any) -> Any:
    """Resolved suite-shaped data with each relative path made absolute (in place): what the generation-0 cache key
    hashes, the same from any working directory."""
    return _rewrite_paths(data, os.path.abspath)


def paths_from_folder(data: Any, folder: str) -> Any:
    """Resolved suite data (``Suite.resolved_config``'s, in place) with each relative path spelt from ``folder``,
    the suite file's folder, instead of the working directory: the same text from wherever ``bench`` runs."""
    return _rewrite_paths(data, lambda value: path_from_folder(value, folder))
