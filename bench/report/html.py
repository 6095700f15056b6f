"""The one Jinja environment of the harness's HTML pages (the report and its per-cell sample pages)."""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, StrictUndefined


def page_environment() -> Environment:
    """``bench/report/templates`` with autoescape on for every template: samples are model output and config values are
    user text, so nothing reaches a page unescaped."""
    return Environment(
        loader=PackageLoader("bench.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
