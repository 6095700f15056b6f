"""``report --out`` safety: only into directories holding what bench wrote, never through a symbolic link."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bench.report.outdir import MANIFEST, OutDirError, OutputDir


def write_once(root: Path, names: tuple[str, ...] = ("index.html", "a.png"), force: bool = False) -> OutputDir:
    out = OutputDir(root, force=force)
    for name in names:
        out.write_text(name, f"content of {name}")
    out.close()
    return out


def test_fresh_and_rewritten_directory(tmp_path: Path) -> None:
    root = tmp_path / "new" / "report"
    write_once(root)
    assert json.loads((root / MANIFEST).read_text())["files"] == ["a.png", "index.html"]
    # A second report into its own output is fine; a figure it no longer draws is removed.
    write_once(root, ("index.html",))
    assert sorted(os.listdir(root)) == sorted([MANIFEST, "index.html"])


def test_foreign_files_refused_unless_forced(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(OutDirError, match=r"holds files bench did not write \(notes.txt\).*--force"):
        OutputDir(tmp_path)
    write_once(tmp_path, force=True)
    assert (tmp_path / "notes.txt").read_text() == "mine"  # --force writes beside it, never removes it
    # The foreign file is still not ours: the next write without --force is refused again.
    with pytest.raises(OutDirError):
        OutputDir(tmp_path)


def test_file_tampered_into_a_link_is_foreign(tmp_path: Path) -> None:
    root = tmp_path / "report"
    write_once(root)
    secret = tmp_path / "secret.txt"
    secret.write_text("do not touch")
    (root / "index.html").unlink()
    (root / "index.html").symlink_to(secret)  # listed in the manifest, but now a link
    with pytest.raises(OutDirError, match="index.html"):
        OutputDir(root)


def test_symlinked_index_is_replaced_not_followed(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("do not touch")
    root = tmp_path / "report"
    root.mkdir()
    (root / "index.html").symlink_to(secret)
    with pytest.raises(OutDirError, match="index.html"):
        OutputDir(root)
    write_once(root, force=True)
    assert secret.read_text() == "do not touch"
    assert not (root / "index.html").is_symlink() and (root / "index.html").read_text() == "content of index.html"


def test_out_that_is_a_link_or_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(OutDirError, match="symbolic link"):
        OutputDir(tmp_path / "link", force=True)
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutDirError, match="not a directory"):
        OutputDir(tmp_path / "file")


def test_names_stay_inside(tmp_path: Path) -> None:
    out = OutputDir(tmp_path / "report")
    for bad in ("../escape.html", "..", "a/b.png", MANIFEST, ""):
        with pytest.raises(ValueError):
            out.write_text(bad, "x")
    assert not (tmp_path / "escape.html").exists()


def test_a_broken_manifest_owns_nothing(tmp_path: Path) -> None:
    root = tmp_path / "report"
    write_once(root)
    (root / MANIFEST).write_text("{not json")
    with pytest.raises(OutDirError, match="a.png"):
        OutputDir(root)
