"""The store's errors: one line each, which the CLI prints as exit 2."""

from __future__ import annotations


class StoreError(RuntimeError):
    """A results directory or database that cannot be used."""


class DatabaseBusyError(StoreError):
    """Another process holds ``bench.duckdb`` open (or our own lock) for longer than we wait."""
