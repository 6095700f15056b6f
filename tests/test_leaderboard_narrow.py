"""The leaderboard in a narrow terminal: one block per metric, every line within the width, nothing lost."""

from __future__ import annotations

import pytest
from conftest import DL, three_scenarios

from bench.analysis.leaderboard import build_leaderboard
from bench.analysis.leaderboard_formats import NARROW_WIDTH, format_comparison, format_leaderboard, title


def board_and_title():
    board = build_leaderboard(three_scenarios())
    return board, title("micro-0123456789ab", "micro", "1dfe3be5c0ffee1234567890", board)


def test_title_names_run_suite_commit_and_seeds() -> None:
    board, heading = board_and_title()
    assert heading == "collapse bench leaderboard — run micro-0123456789ab, suite micro, commit 1dfe3be5c0ff, 3 seeds"
    assert title("r", "s", None, board[:1]).endswith("commit unknown, 3 seeds")


def test_a_table_that_fits_is_the_whole_table() -> None:
    board, heading = board_and_title()
    whole = format_leaderboard(board, "table", heading=heading)  # no width: as wide as it wants
    width = max(len(line) for line in whole.splitlines())
    assert width > 100  # the case this is for: the whole table is wider than the terminals below
    assert format_leaderboard(board, "table", width=width, heading=heading) == whole


@pytest.mark.parametrize("columns", [80, 100])
def test_narrow_terminal_gets_one_block_per_metric(columns: int) -> None:
    board, heading = board_and_title()
    text = format_leaderboard(board, "table", width=columns, heading=heading)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= min(columns, NARROW_WIDTH)
    assert "micro-0123456789ab" in text.replace("\n", " ") and "1dfe3be5c0ff" in text
    # One block per metric with its direction, and the scenarios' block first.
    headings = [line for line in lines if line.endswith("is better)")]
    assert headings == [f"{DL} (higher is better)", "correct (higher is better)", "unique_ratio (higher is better)"]
    assert lines.index("scenarios") < lines.index(headings[0])
    # Every number of the wide table is still there (interval commas closed up so cells break only before "[").
    flat = " ".join(text.split())
    for row in board:
        assert row.scenario in text
        for metric in (DL, "correct", "unique_ratio"):
            shown = format_comparison(row, metric).replace(", ", ",")
            assert shown.split(" p=")[0].split()[0] in flat
    assert "not reached (0/3)" in text and "Kaplan–Meier" in flat
