"""``--help`` that shows every option's default (argparse's ArgumentDefaultsHelpFormatter, minus the noise).

argparse's own formatter appends ``(default: …)`` to every option, including flags (``default: False``), options
without a default (``default: None``) and help texts that already state their default; this one skips those.
"""

from __future__ import annotations

import argparse


class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text.lower() or _quiet(action.default):
            return text
        return super()._get_help_string(action)


def _quiet(default: object) -> bool:
    # Identity, not ==: a default of 0 (a seed) is worth showing, and 0 == False.
    return default is None or default is False or default == argparse.SUPPRESS or default == []


def show_defaults(parser: argparse.ArgumentParser) -> None:
    """Give ``parser`` and each of its subcommands the formatter (an option without help text gets one that
    states its default, since argparse prints nothing for it otherwise)."""
    parsers = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            parsers += list(action.choices.values())
    for each in parsers:
        each.formatter_class = DefaultsHelpFormatter
        for action in each._actions:
            if action.help is None and action.option_strings and not _quiet(action.default):
                action.help = "(default: %(default)s)"
