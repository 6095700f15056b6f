"""``make report-check``: render the report of a tiny finished run and look at it in headless Chromium.

``python -m tools.report_check [--out DIR]`` runs a tiny suite (a tiny GPT-2, two scenarios, two seeds, three
generations, about a minute on one CPU thread) into ``DIR/results``, writes its report to ``DIR/report``, and has
Chromium (1) load the page and dump the DOM it built, (2) take a full-width screenshot, ``DIR/report.png``, and one
of the first screen, ``DIR/first-screen.png`` (the summary must be on it), and (3) load one cell's sample page and
check that its script built the sample table from the embedded data.
It fails (exit 1, one line) when Chromium is missing or fails, when the DOM lacks a section, or when the screenshot
is blank or shows none of the verdict colours of the figures and samples. Nothing is downloaded: Chromium comes
from the system (``apt-get install chromium``; ``CHROMIUM=/path`` picks another binary).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import yaml

from bench.lines import split_lines

SUITE = {
    "suite": "report_check",
    "seeds": [0, 1],
    "generations": 3,
    "checkpoints": "none",
    "task": {"name": "logic", "params": {"max_depth": 3}},
    "data": {"size": 120},
    "model": {"preset": "tiny", "overrides": {"n_embd": 32}},
    "training": {
        "max_iters": 16,
        "batch_size": 4,
        "block_size": 64,
        "learning_rate": 0.003,
        "warmup_iters": 2,
        "eval_interval": 8,
        "patience": 2,
    },
    "sampling": {"batch_size": 120},
    "scenarios": [
        {"name": "replace", "regime": {"kind": "replace"}},
        {"name": "filtered", "regime": {"kind": "replace"}, "mitigations": [{"name": "verifier_filter"}]},
    ],
}
SECTIONS = ("summary", "leaderboard", "figures", "samples", "config")
WIDTH, HEIGHT = 1280, 6000
FIRST_SCREEN = 800  # the height of what a laptop shows before any scrolling
TIMEOUT = 120


class CheckFailed(RuntimeError):
    pass


def find_chromium() -> str | None:
    if os.environ.get("CHROMIUM"):
        return os.environ["CHROMIUM"]
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _chromium(binary: str, *args: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as profile:
        command = [
            binary,
            "--headless",
            "--no-sandbox",  # containers and CI run as root, where the sandbox cannot start
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            f"--user-data-dir={profile}",
            *args,
        ]
        try:
            return subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, check=False)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise CheckFailed(f"chromium failed to run: {error}") from None


class _Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.images: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids.add(str(values["id"]))
        if tag == "img" and values.get("src"):
            self.images.append(str(values["src"]))


def check_dom(binary: str, page: Path) -> list[str]:
    """The DOM Chromium built from the page holds every section and its images exist; returns the image names."""
    result = _chromium(binary, "--dump-dom", page.resolve().as_uri())
    if result.returncode != 0 or "</html>" not in result.stdout:
        raise CheckFailed(f"chromium could not load {page}: {split_lines(result.stderr.strip())[-1:]}")
    parser = _Ids()
    parser.feed(result.stdout)
    missing = [s for s in SECTIONS if s not in parser.ids]
    if missing:
        raise CheckFailed(f"{page}: the rendered page lacks section(s) {', '.join(missing)}")
    absent = [src for src in parser.images if not (page.parent / src).is_file()]
    if not parser.images or absent:
        raise CheckFailed(f"{page}: images missing: {absent or 'none on the page'}")
    return parser.images


def check_screenshot(binary: str, page: Path, shot: Path) -> dict[str, float]:
    """Screenshot the page; it must be mostly light (a page), not blank, and show the verdict colours."""
    from PIL import Image

    from bench.report.figures import VERDICT_COLORS

    result = _chromium(binary, f"--window-size={WIDTH},{HEIGHT}", f"--screenshot={shot}", page.resolve().as_uri())
    if result.returncode != 0 or not shot.is_file():
        raise CheckFailed(f"chromium took no screenshot of {page}: {split_lines(result.stderr.strip())[-1:]}")
    pixels = np.asarray(Image.open(shot).convert("RGB")).reshape(-1, 3).astype(np.int16)
    ink = float((pixels.sum(axis=1) < 600).mean())  # share of non-near-white pixels
    found = {}
    for label, color in VERDICT_COLORS.items():
        rgb = np.array([int(color[i : i + 2], 16) for i in (1, 3, 5)])
        found[label] = float((np.abs(pixels - rgb).max(axis=1) <= 6).mean())
    if ink < 0.02:
        raise CheckFailed(f"{shot}: the page looks blank ({ink:.1%} non-white pixels)")
    if found["correct"] < 0.001:
        raise CheckFailed(f"{shot}: no verdict colour visible; figures or samples did not render")
    return {"ink": ink, **{f"color_{k}": v for k, v in found.items()}}


def check_first_screen(binary: str, page: Path, shot: Path) -> None:
    """The first screen (1280×800) is a page, not blank: the summary opens it."""
    result = _chromium(binary, f"--window-size={WIDTH},{FIRST_SCREEN}", f"--screenshot={shot}", page.resolve().as_uri())
    if result.returncode != 0 or not shot.is_file():
        raise CheckFailed(f"chromium took no first-screen screenshot of {page}")


def check_sample_page(binary: str, page: Path) -> int:
    """A cell's sample page, loaded with its script: the table holds rows built from the embedded samples."""
    pages = sorted(page.parent.glob("samples-*.html"))
    if not pages:
        raise CheckFailed(f"{page.parent}: no per-cell sample page")
    result = _chromium(binary, "--dump-dom", pages[0].resolve().as_uri())
    body = result.stdout.split('id="rows"', 1)[-1].split("</tbody>", 1)[0]
    rows = body.count("<tr")
    if result.returncode != 0 or rows == 0:
        raise CheckFailed(f"{pages[0]}: the page's script built no sample rows")
    return rows


def build(out: Path) -> Path:
    """Run the tiny suite and write its report; return the page."""
    from bench.cli.main import main as bench_main

    out.mkdir(parents=True, exist_ok=True)
    suite = out / "report_check.yaml"
    suite.write_text(yaml.safe_dump(SUITE, sort_keys=False))
    results = out / "results"
    if bench_main(["run", str(suite), "--results", str(results), "--quiet"]) != 0:
        raise CheckFailed("the tiny run failed")
    report = out / "report"
    if bench_main(["report", "--results", str(results), "--out", str(report), "--force"]) != 0:
        raise CheckFailed("bench report failed")
    return report / "index.html"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.report_check", description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="results/report-check", help="work folder (default: results/report-check)")
    args = parser.parse_args(argv)
    binary = find_chromium()
    if binary is None:
        print(
            "report-check: error: no Chromium found; apt-get install chromium (or set CHROMIUM=/path)", file=sys.stderr
        )
        return 1
    out = Path(args.out)
    try:
        page = build(out)
        images = check_dom(binary, page)
        numbers = check_screenshot(binary, page, out / "report.png")
        check_first_screen(binary, page, out / "first-screen.png")
        rows = check_sample_page(binary, page)
    except CheckFailed as error:
        print(f"report-check: error: {error}", file=sys.stderr)
        return 1
    shown = ", ".join(f"{k} {v:.2%}" for k, v in numbers.items())
    print(
        f"report-check: ok — {page} renders with {len(images)} figures; screenshot {out / 'report.png'} ({shown}); "
        f"first screen {out / 'first-screen.png'}; a sample page built {rows} rows"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
