"""The report as a person sees it: headless Chromium builds the page and takes a screenshot (skipped without it).

``make report-check`` does the same on a real tiny run; here the page comes from synthetic rows and samples, so the
test takes seconds.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import REPORT_RUN, composition_rows, report_inputs

from bench.report.page import write_report
from tools.report_check import CheckFailed, check_dom, check_screenshot, find_chromium

CHROMIUM = find_chromium()
pytestmark = [pytest.mark.slow, pytest.mark.skipif(CHROMIUM is None, reason="no Chromium (apt-get install chromium)")]


def test_page_renders_in_chromium(tmp_path: Path) -> None:
    rows = composition_rows()
    write_report(
        rows, tmp_path, "demo", {"seeds": [0, 1]}, run=REPORT_RUN, inputs=report_inputs(rows), formats=("png",)
    )
    images = check_dom(CHROMIUM, tmp_path / "index.html")
    assert images[0] == "verdicts.png" and "composition.png" in images
    numbers = check_screenshot(CHROMIUM, tmp_path / "index.html", tmp_path / "shot.png")
    assert numbers["ink"] > 0.02 and numbers["color_correct"] > 0.001


def test_a_broken_page_fails(tmp_path: Path) -> None:
    # Missing figures, a page without its sections, and an empty screenshot each fail the check.
    rows = composition_rows()
    write_report(rows, tmp_path, "demo", {"seeds": [0, 1]}, run=REPORT_RUN, formats=("png",))
    (tmp_path / "verdicts.png").unlink()
    with pytest.raises(CheckFailed, match="images missing"):
        check_dom(CHROMIUM, tmp_path / "index.html")
    (tmp_path / "blank.html").write_text("<!DOCTYPE html><html><body></body></html>")
    with pytest.raises(CheckFailed, match="lacks section"):
        check_dom(CHROMIUM, tmp_path / "blank.html")
    with pytest.raises(CheckFailed, match="blank"):
        check_screenshot(CHROMIUM, tmp_path / "blank.html", tmp_path / "blank.png")
