"""collapse bench: a benchmark harness for self-consuming training loops."""

__version__ = "0.1.0"
