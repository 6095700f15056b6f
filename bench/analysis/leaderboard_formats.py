"""The leaderboard's renderings: a terminal table (whole, or one block per metric when narrow), markdown, CSV and
JSON, with the caption that says what a cell means. The rows come from :func:`bench.analysis.leaderboard.
build_leaderboard`; nothing here computes a statistic."""

from __future__ import annotations

import csv
import io
import json
import textwrap
from collections.abc import Sequence
from typing import Any, Literal

from bench.analysis.leaderboard import COLLAPSE_EVENTS, DEFAULT_METRICS, BoardRow, primary_contrast_row
from bench.analysis.stats import Interval, KMResult
from bench.lines import split_lines
from bench.metrics import METRICS

Format = Literal["table", "md", "csv", "json"]


def format_interval(estimate: Interval | None, signed: bool = False) -> str:
    """``"0.512 [0.480, 0.540]"`` (``signed``: ``"+0.012 [-0.010, +0.030]"``); one seed ``"0.512 [–]"``; none "—"."""
    if estimate is None:
        return "—"
    f = "{:+.3f}" if signed else "{:.3f}"
    if estimate.low is None or estimate.high is None:
        return f"{f.format(estimate.mean)} [–]"
    return f"{f.format(estimate.mean)} [{f.format(estimate.low)}, {f.format(estimate.high)}]"


def format_comparison(row: BoardRow, metric: str) -> str:
    """The paired final-value difference with its Holm-adjusted p-value; "baseline" on the baseline's own row."""
    if row.is_baseline:
        return "baseline"
    cmp = row.comparisons.get((metric, "final"))
    if cmp is None:
        return "—"
    p = "" if cmp.p_reported is None else f" p={cmp.p_reported:.2g}" + (" (primary)" if cmp.primary else "")
    return format_interval(cmp.difference, signed=True) + p


def _format_collapse(km: KMResult | None) -> str:
    if km is None:
        return "—"
    median = "not reached" if km.median is None else f"{km.median:g}"
    return f"{median} ({km.events}/{km.n})"


def table_cells(
    board: Sequence[BoardRow], metrics: Sequence[str] = DEFAULT_METRICS
) -> tuple[list[str], list[list[str]]]:
    """Headers and string cells shared by the terminal, markdown and HTML tables.

    Per metric the board carries: the final value, the AUC, and the paired difference of the final value against the
    baseline with its Holm-adjusted p-value. Then the Kaplan–Meier median generations until collapse, with the
    number of seeds that collapsed.
    """
    shown = [m for m in metrics if any((m, "final") in r.estimates for r in board)]
    events = [e for e in COLLAPSE_EVENTS if any(e in r.collapse for r in board)]
    headers = ["scenario", "seeds", "gens"]
    for m in shown:
        headers += [f"{m} final", f"{m} AUC", f"{m} Δ final"]
    headers += [f"gens to {e.replace('_', ' ')}" for e in events]
    body = []
    for r in board:
        cells = [r.scenario, str(r.n_seeds), str(r.n_generations)]
        for m in shown:
            cells.append(format_interval(r.estimates.get((m, "final"))))
            cells.append(format_interval(r.estimates.get((m, "auc"))))
            cells.append(format_comparison(r, m))
        cells += [_format_collapse(r.collapse.get(e)) for e in events]
        body.append(cells)
    return headers, body


def interval_methods(board: Sequence[BoardRow]) -> list[str]:
    """The interval methods the board used (``t``, ``bootstrap``, ``none`` for one seed)."""
    return sorted({e.method for r in board for e in r.estimates.values()})


def caption(board: Sequence[BoardRow]) -> str:
    """The legend under every rendering of the table: what a cell and each column mean."""
    confidence = board[0].confidence if board else 0.95
    baseline = board[0].baseline if board else "the baseline"
    names = {"t": "Student-t", "bootstrap": "percentile bootstrap", "none": "none for one seed"}
    methods = ", ".join(names[m] for m in interval_methods(board)) or "none"
    tests = {c.test for r in board for c in r.comparisons.values()} or {"sign-flip"}
    test = " / ".join(
        "sign-flip permutation test (exact up to 20 seeds)" if t == "sign-flip" else "paired t-test"
        for t in sorted(tests)
    )
    found = primary_contrast_row(board)
    asked = next((r.contrast for r in board if r.contrast is not None), None)
    if found:
        primary = (
            f"First row: the pre-registered primary contrast ({found[0].scenario!r} on {found[1]} final), "
            "p uncorrected; every other p Holm-corrected across the other rows. "
        )
    elif asked is not None:
        lacking = [r.scenario for r in board if asked[1] in r.undefined]
        why = f"{asked[1]} is not defined in every generation of {', '.join(lacking)}" if lacking else "no paired seeds"
        primary = (
            f"The pre-registered primary contrast ({asked[0]!r} on {asked[1]} final) could not be computed ({why}); "
            "p Holm-corrected across rows. "
        )
    else:
        primary = "p Holm-corrected across rows. "
    if any(r.undefined for r in board):
        primary += (
            "—: a metric some seed lacks at some generation (undefined there, e.g. fewer samples than it needs) is "
            "left out of that scenario and of its comparisons. "
        )
    return (
        f"cells: mean over seeds [{confidence:.0%} CI; {methods}; [0, 1] metrics on the logit scale, or clipped "
        "to [0, 1] where a seed sits on a bound]. final: last generation all seeds reached. "
        f"AUC: normalized area under the curve. Δ final: paired difference vs {baseline!r} on shared seeds, "
        f"p: {test}. {primary}"
        "gens to …: Kaplan–Meier median generation of the event (seeds with the event / seeds)."
    )


DEFAULT_TITLE = "collapse bench leaderboard"
# Width of the per-metric blocks when the whole table does not fit the terminal.
NARROW_WIDTH = 90


def title(run_id: str, suite: str, commit: str | None, board: Sequence[BoardRow]) -> str:
    """``collapse bench leaderboard — run ID, suite NAME, commit ABC1234, 3 seeds`` (the most seeds of any row)."""
    seeds = max((r.n_seeds for r in board), default=0)
    return (
        f"{DEFAULT_TITLE} — run {run_id}, suite {suite}, commit {commit[:12] if commit else 'unknown'}, "
        f"{seeds} seed{'s' if seeds != 1 else ''}"
    )


def render_plain(renderables: Sequence[Any], width: int) -> str:
    """Rich renderables as plain text ``width`` columns wide: no colour codes, no trailing spaces."""
    from rich.console import Console

    out = io.StringIO()
    console = Console(file=out, width=width, color_system=None, force_terminal=False, no_color=True)
    for renderable in renderables:
        console.print(renderable)
    return "\n".join(line.rstrip() for line in split_lines(out.getvalue())) + "\n"


def _wide_table(board: Sequence[BoardRow], metrics: Sequence[str], heading: str):
    from rich.table import Table
    from rich.text import Text

    headers, body = table_cells(board, metrics)
    table = Table(title=heading, caption=caption(board), caption_justify="left")
    for i, h in enumerate(headers):
        table.add_column(h.replace(" ", "\n", 1) if i >= 3 else h, justify="left" if i == 0 else "right")
    for cells in body:
        # Text objects, not strings: scenario names and "[low, high]" must not be read as rich markup.
        table.add_row(*(Text(c) for c in cells))
    return table


def _compact(text: str) -> str:
    # "0.512 [0.480,0.540]": the only space left is between the mean and its interval, so a cell that must wrap
    # breaks there and never inside the interval.
    return text.replace(", ", ",")


def _metric_blocks(board: Sequence[BoardRow], metrics: Sequence[str]) -> list[Any]:
    """One small table per metric (scenario, final, AUC, Δ final) after one of the scenarios' seeds and collapse."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    def block(heading: str, headers: list[str]) -> Table:
        table = Table(
            title=heading,
            title_justify="left",
            box=box.SIMPLE_HEAD,
            show_edge=False,
            pad_edge=False,
            collapse_padding=True,
        )
        for i, h in enumerate(headers):
            table.add_column(h, justify="left" if i == 0 else "right", overflow="fold")
        return table

    events = [e for e in COLLAPSE_EVENTS if any(e in r.collapse for r in board)]
    first = block("scenarios", ["scenario", "seeds", "gens", *(f"gens to {e.replace('_', ' ')}" for e in events)])
    for r in board:
        first.add_row(
            Text(r.scenario),
            str(r.n_seeds),
            str(r.n_generations),
            *(_format_collapse(r.collapse.get(e)) for e in events),
        )
    blocks: list[Any] = [first]
    baseline = board[0].baseline if board else "baseline"
    for m in [m for m in metrics if any((m, "final") in r.estimates for r in board)]:
        better = {True: "higher is better", False: "lower is better"}.get(_declared_direction(m), "descriptive")
        table = block(f"{m} ({better})", ["scenario", "final", "AUC", f"Δ final vs {baseline}"])
        for r in board:
            table.add_row(
                Text(r.scenario),
                _compact(format_interval(r.estimates.get((m, "final")))),
                _compact(format_interval(r.estimates.get((m, "auc")))),
                _compact(format_comparison(r, m)),
            )
        blocks.append(table)
    return blocks


def _declared_direction(metric: str) -> bool | None:
    return METRICS.get(metric).higher_is_better if metric in METRICS else None


def _rich_table(
    board: Sequence[BoardRow], metrics: Sequence[str], width: int | None, heading: str = DEFAULT_TITLE
) -> str:
    """The whole table when it fits ``width`` (``None``: any width); else one block per metric, at most
    :data:`NARROW_WIDTH` columns and never wider than ``width``."""
    from rich.console import Console

    table = _wide_table(board, metrics, heading)
    # As wide as the table wants, so cells never wrap mid-number.
    natural = Console(file=io.StringIO(), width=10_000).measure(table).maximum
    if width is None or natural <= width:
        return render_plain([table], natural)
    if width >= 2 * NARROW_WIDTH:  # room for blocks side by side: use it (COLUMNS=200 shows two a row)
        from rich.columns import Columns

        blocks = Columns(_metric_blocks(board, metrics), padding=(1, 4))
        return render_plain(
            [textwrap.fill(heading, width), "", blocks, "", textwrap.fill(caption(board), width)], width
        )
    narrow = max(min(width, NARROW_WIDTH), 40)
    paragraphs: list[Any] = [textwrap.fill(heading, narrow)]
    for block in _metric_blocks(board, metrics):
        paragraphs += ["", block]  # a blank line between blocks
    return render_plain([*paragraphs, "", textwrap.fill(caption(board), narrow)], narrow)


def _md_escape(cell: str) -> str:
    return cell.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _markdown(board: Sequence[BoardRow], metrics: Sequence[str]) -> str:
    headers, body = table_cells(board, metrics)
    lines = ["| " + " | ".join(_md_escape(h) for h in headers) + " |"]
    lines.append("|" + "|".join([":---"] + ["---:"] * (len(headers) - 1)) + "|")
    lines += ["| " + " | ".join(_md_escape(c) for c in cells) + " |" for cells in body]
    return "\n".join(lines) + "\n\n" + caption(board) + "\n"


def _csv(dicts: Sequence[dict[str, Any]]) -> str:
    fields = list(dict.fromkeys(k for r in dicts for k in r))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for r in dicts:
        # repr-exact floats (csv writes repr); None becomes an empty field.
        writer.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in fields})
    return out.getvalue()


def format_leaderboard(
    board: list[BoardRow],
    fmt: Format,
    metrics: Sequence[str] = DEFAULT_METRICS,
    width: int | None = None,
    heading: str = DEFAULT_TITLE,
    provenance: dict[str, Any] | None = None,
) -> str:
    """Render a board from :func:`build_leaderboard`.

    ``"table"``: a rich terminal table titled ``heading`` (plain text, no colour codes; ``width`` defaults to the
    table's own width; a narrower ``width`` gives one block per metric, see :func:`_rich_table`); ``"md"``: a
    GitHub markdown table with the same cells and a caption; ``"csv"``: every key of every row, with a header row;
    ``"json"``: the list of row dicts, every CI field, floats unrounded.
    ``metrics`` picks the columns of "table" and "md" (metrics missing from the board show "—").
    ``provenance`` (run id, suite, commit) heads the markdown and leads every CSV and JSON row, so a copied file
    still says where it came from.
    """
    if fmt == "table":
        return _rich_table(board, metrics, width, heading)
    if fmt == "md":
        return (f"**{_md_escape(heading)}**\n\n" if provenance else "") + _markdown(board, metrics)
    rows = [{**(provenance or {}), **r.to_dict()} for r in board]
    if fmt == "csv":
        return _csv(rows)
    if fmt == "json":
        return json.dumps(rows, indent=2, allow_nan=False) + "\n"
    raise ValueError(f"unknown format {fmt!r}; known: table, md, csv, json")
