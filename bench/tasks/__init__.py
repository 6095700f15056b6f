"""Tasks: registered by name; a suite's ``task.name`` selects one."""

from __future__ import annotations

from typing import Any

from bench.registry import Registry
from bench.tasks.base import LABELS, Label, Task, Verdict

TASKS: Registry[Any] = Registry("task")


def get_task(name: str, **params: Any) -> Task:
    """Build the task ``name`` with its suite parameters."""
    # Imported here so that registering happens on first use, not on package import.
    from bench.tasks import logic  # noqa: F401

    return TASKS.get(name)(**params)


__all__ = ["LABELS", "Label", "TASKS", "Task", "Verdict", "get_task"]
