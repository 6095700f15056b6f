"""The results database (DuckDB and Parquet files), its integrity checks and its repair.

The only package that imports duckdb."""
