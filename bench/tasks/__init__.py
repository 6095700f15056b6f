"""Tasks: registered by name with ``@TASKS.register(name)``; a suite's ``task.name`` selects one.

Built-in tasks live in this folder; other packages add theirs through the entry-point group
``collapse_bench.tasks``.
"""

from __future__ import annotations

from typing import Any

from bench.registry import Registry
from bench.tasks.base import LABELS, Label, Task, Verdict

TASKS: Registry[Any] = Registry(
    "task", "tasks", builtins=("bench.tasks.logic", "bench.tasks.identities", "bench.tasks.text")
)


def get_task(name: str, **params: Any) -> Task:
    """Build the task ``name`` with its suite parameters."""
    return TASKS.get(name)(**params)


def task_meaning(task: Task, text: str) -> str | None:
    """The task's meaning key of ``text``, or ``None`` when the task defines no meaning (like ``logic``)."""
    meaning = getattr(task, "meaning", None)
    return None if meaning is None else meaning(text)


def has_meaning(task: Task) -> bool:
    """Whether the task defines a meaning key for correct samples (the semantic metrics need one)."""
    return callable(getattr(task, "meaning", None))


def has_verdicts(task: Task) -> bool:
    """Whether the task judges samples (``text`` does not: it has no correct/incorrect/invalid)."""
    return bool(getattr(task, "has_verdicts", True))


__all__ = ["LABELS", "Label", "TASKS", "Task", "Verdict", "get_task", "has_meaning", "has_verdicts", "task_meaning"]
