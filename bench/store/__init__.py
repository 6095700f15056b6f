"""The results directory: its DuckDB database and Parquet files, their integrity checks and their repair.

The only package that imports duckdb. Callers use :class:`bench.store.database.Store`; the modules beside it each
do one job of it (layout, connection, schema, rows, leftovers, merge, parquet). Nothing is imported here, so that
``bench.store.paths`` (the CLI's directory checks) loads neither DuckDB nor Arrow."""
