"""The results database's tables: their DDL, the migrations of older files, and checks of a file's columns.

A generation is finished exactly when its row is in ``generations``; its metrics are written in the same
transaction, so a crash leaves either the whole generation or none of it, and a rerun redoes only what is missing.
The row also records the SHA-256 of every artifact the generation wrote (``artifacts``), so a resume can tell a
missing, damaged or replaced input from the one the numbers came from.
"""

from __future__ import annotations

import functools

import duckdb
import pyarrow as pa

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY,
    suite VARCHAR NOT NULL,
    suite_path VARCHAR,
    suite_hash VARCHAR,
    config JSON NOT NULL,
    baseline VARCHAR,
    git_commit VARCHAR,
    packages JSON,
    device VARCHAR,
    started_at TIMESTAMP,
    finished_at TIMESTAMP,
    status VARCHAR NOT NULL,
    git_dirty BOOLEAN,
    git_diff_sha256 VARCHAR
);
CREATE TABLE IF NOT EXISTS metrics (
    run_id VARCHAR NOT NULL,
    suite VARCHAR NOT NULL,
    scenario VARCHAR NOT NULL,
    seed BIGINT NOT NULL,
    generation INTEGER NOT NULL,
    metric VARCHAR NOT NULL,
    value DOUBLE,
    higher_is_better BOOLEAN,
    PRIMARY KEY (run_id, scenario, seed, generation, metric)
);
CREATE TABLE IF NOT EXISTS drops (
    run_id VARCHAR NOT NULL,
    scenario VARCHAR NOT NULL,
    seed BIGINT NOT NULL,
    generation INTEGER NOT NULL,
    reason VARCHAR NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (run_id, scenario, seed, generation, reason)
);
CREATE TABLE IF NOT EXISTS generations (
    run_id VARCHAR NOT NULL,
    scenario VARCHAR NOT NULL,
    seed BIGINT NOT NULL,
    generation INTEGER NOT NULL,
    samples_path VARCHAR NOT NULL,
    data_path VARCHAR NOT NULL,
    checkpoint_path VARCHAR,
    train_iterations INTEGER,
    best_val_loss DOUBLE,
    train_seconds DOUBLE,
    sample_seconds DOUBLE,
    useful_tokens_per_second DOUBLE,
    finished_at TIMESTAMP NOT NULL,
    artifacts JSON,
    PRIMARY KEY (run_id, scenario, seed, generation)
);
CREATE TABLE IF NOT EXISTS failures (
    run_id VARCHAR NOT NULL,
    scenario VARCHAR NOT NULL,
    seed BIGINT NOT NULL,
    generation INTEGER NOT NULL,
    error VARCHAR NOT NULL,
    failed_at TIMESTAMP NOT NULL,
    PRIMARY KEY (run_id, scenario, seed)
);
"""
# Databases written before a column existed gain it (NULL: unknown) when a writer opens them: ``artifacts`` (digests),
# ``git_dirty`` and ``git_diff_sha256`` (provenance; bench/run/provenance.py).
MIGRATIONS = """ALTER TABLE generations ADD COLUMN IF NOT EXISTS artifacts JSON;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS git_dirty BOOLEAN;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS git_diff_sha256 VARCHAR;"""
TABLES = ("runs", "metrics", "drops", "generations", "failures")
REQUIRED_TABLES = ("runs", "metrics", "drops", "generations")  # failures came later: older databases lack it
OPTIONAL_COLUMNS = {("generations", "artifacts")}  # older databases lack it (MIGRATIONS adds it)

# The column types of the batches ``record_generations`` inserts, as Arrow tables (an empty batch keeps its schema).
METRIC_COLUMNS = (
    ("run_id", pa.string()),
    ("suite", pa.string()),
    ("scenario", pa.string()),
    ("seed", pa.int64()),
    ("generation", pa.int32()),
    ("metric", pa.string()),
    ("value", pa.float64()),
    ("higher_is_better", pa.bool_()),
)
DROP_COLUMNS = (
    ("run_id", pa.string()),
    ("scenario", pa.string()),
    ("seed", pa.int64()),
    ("generation", pa.int32()),
    ("reason", pa.string()),
    ("count", pa.int64()),
)
GENERATION_COLUMNS = (
    ("run_id", pa.string()),
    ("scenario", pa.string()),
    ("seed", pa.int64()),
    ("generation", pa.int32()),
    ("samples_path", pa.string()),
    ("data_path", pa.string()),
    ("checkpoint_path", pa.string()),
    ("train_iterations", pa.int32()),
    ("best_val_loss", pa.float64()),
    ("train_seconds", pa.float64()),
    ("sample_seconds", pa.float64()),
    ("useful_tokens_per_second", pa.float64()),
    ("finished_at", pa.timestamp("us")),
    ("artifacts", pa.string()),
)


def bring_up_to_date(con: duckdb.DuckDBPyConnection) -> None:
    """Create missing tables and add the columns an older database lacks (what every writer does first)."""
    con.execute(SCHEMA)
    con.execute(MIGRATIONS)


def table_names(con: duckdb.DuckDBPyConnection, schema: str = "main", catalog: str | None = None) -> set[str]:
    query = "SELECT table_name FROM information_schema.tables WHERE table_schema = ?"
    params: list[str] = [schema]
    if catalog is not None:
        query += " AND table_catalog = ?"
        params.append(catalog)
    return {row[0] for row in con.execute(query, params).fetchall()}


def column_types(con: duckdb.DuckDBPyConnection, catalog: str | None = None) -> dict[str, dict[str, str]]:
    """``{table: {column: type}}`` of the main schema (of ``catalog`` when given)."""
    query = "SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = 'main'"
    params: list[str] = []
    if catalog is not None:
        query += " AND table_catalog = ?"
        params.append(catalog)
    found: dict[str, dict[str, str]] = {}
    for table, column, kind in con.execute(query, params).fetchall():
        found.setdefault(table, {})[column] = kind
    return found


@functools.cache
def expected_columns() -> dict[str, dict[str, str]]:
    """The columns and types a results database of this version has (``SCHEMA`` in an in-memory database)."""
    with duckdb.connect(":memory:") as con:
        con.execute(SCHEMA)
        return column_types(con)


def missing_table(present: set[str]) -> str | None:
    """The first table a results database must have that ``present`` lacks."""
    return next((t for t in REQUIRED_TABLES if t not in present), None)


def column_problem(found: dict[str, dict[str, str]]) -> str | None:
    """Why a database with these columns cannot be merged: a column this version does not write, one of another
    type, or a required one missing (``None``: it can)."""
    for table, columns in expected_columns().items():
        present = found.get(table)
        if present is None:
            continue
        for column, kind in present.items():
            if column not in columns:
                return f"table {table} has a column {column!r} bench does not write"
            if kind != columns[column]:
                return f"column {table}.{column} is {kind}, not {columns[column]} as bench writes it"
        absent = [c for c in columns if c not in present and (table, c) not in OPTIONAL_COLUMNS]
        if absent:
            return f"table {table} lacks the column {absent[0]!r}"
    return None
