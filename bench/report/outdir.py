"""An output directory the harness owns: it writes only there, never over what it did not write, never via links.

``bench report --out DIR`` may be pointed at any directory, so before anything is written:

- ``DIR`` itself must not be a symbolic link, and must be a directory if it exists;
- every entry already in ``DIR`` must be one the harness wrote there before: a regular file (not a link) named in
  the manifest ``.bench-manifest.json``. Anything else refuses the whole write unless ``force`` is given.

Each file is written to a temporary file in ``DIR`` and renamed over its name. A rename replaces a symbolic link
instead of writing through it, so even with ``force`` a planted ``index.html -> ~/.bashrc`` is replaced, and its
target is untouched. Files listed in the old manifest and not written again are removed (stale figures).

An interrupted write (SIGTERM, SIGHUP, a full disk) must not make the next one refuse: the manifest names each file
before the file is written, and temporary files of the writer's own pattern (``.tmp-*.part``, regular files) are
removed by the next write.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from pathlib import Path

MANIFEST = ".bench-manifest.json"
MANIFEST_VERSION = 1
TEMP_PREFIX, TEMP_SUFFIX = ".tmp-", ".part"


def _is_leftover(root: Path, entry: str) -> bool:
    """A temporary file of an interrupted write into ``root`` (a regular file of our pattern)."""
    if not (entry.startswith(TEMP_PREFIX) and entry.endswith(TEMP_SUFFIX)):
        return False
    return stat.S_ISREG(os.lstat(root / entry).st_mode)


class OutDirError(ValueError):
    """An output directory the harness must not write into (one line for the user)."""


def _safe_name(name: str) -> str:
    """A file name directly in the directory: the writer never builds paths that leave it."""
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name or name == MANIFEST:
        raise ValueError(f"not a plain file name: {name!r}")
    return name


def _manifest_names(root: Path) -> set[str]:
    """Names in the manifest, or none when it is missing, a link, or not ours."""
    path = root / MANIFEST
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return set()
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return set()
    if not isinstance(data, dict) or data.get("version") != MANIFEST_VERSION or not isinstance(data.get("files"), list):
        return set()
    names = set()
    for name in data["files"]:
        # The manifest decides what is deleted later: a name that is not one plain file directly in this folder
        # (``../x``, ``/etc/x``, ``a/b``) was not written by bench, and the whole directory is refused.
        try:
            names.add(_safe_name(name) if isinstance(name, str) else _safe_name(""))
        except ValueError:
            raise OutDirError(
                f"{path}: names {name!r}, which is not a plain file name in this folder; "
                "this manifest was not written by bench (remove it or choose another directory)"
            ) from None
    return names


class OutputDir:
    """A checked output directory; :meth:`write` adds files, :meth:`close` writes the manifest."""

    def __init__(self, root: str | Path, force: bool = False) -> None:
        self.root = Path(root)
        self.written: list[str] = []
        self.previous: set[str] = set()
        self.leftovers: list[str] = []
        self._check(force)
        for entry in self.leftovers:  # only after the whole directory was found acceptable
            os.unlink(self.root / entry)

    def _check(self, force: bool) -> None:
        if self.root.is_symlink():
            raise OutDirError(f"{self.root}: is a symbolic link; give the real directory")
        if not self.root.exists():
            return
        if not self.root.is_dir():
            raise OutDirError(f"{self.root}: exists and is not a directory")
        self.previous = _manifest_names(self.root)
        foreign = []
        for entry in sorted(os.listdir(self.root)):
            if entry == MANIFEST and stat.S_ISREG(os.lstat(self.root / entry).st_mode):
                continue
            if _is_leftover(self.root, entry):
                self.leftovers.append(entry)
                continue
            mode = os.lstat(self.root / entry).st_mode
            if entry not in self.previous or not stat.S_ISREG(mode):  # a link or folder is never ours
                foreign.append(entry)
        if foreign and not force:
            shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
            raise OutDirError(
                f"{self.root}: holds files bench did not write ({shown}); choose an empty directory or pass --force"
            )

    def path(self, name: str) -> Path:
        return self.root / _safe_name(name)

    def write(self, name: str, data: bytes) -> Path:
        """Write ``data`` under ``name`` atomically, replacing (never following) whatever is there."""
        target = self.path(name)
        if target.is_dir() and not target.is_symlink():
            raise OutDirError(f"{target}: is a directory; cannot write a file there")
        self.root.mkdir(parents=True, exist_ok=True)
        if name not in self.written and name not in self.previous:
            # Named in the manifest before it exists: an interrupted write leaves no file the next one calls foreign.
            self._write_manifest(sorted(self.previous | {*self.written, name}))
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)  # rename(2): a link at ``target`` is replaced, its target untouched
        except BaseException:
            if os.path.lexists(tmp):
                os.unlink(tmp)
            raise
        if name not in self.written:
            self.written.append(name)
        return target

    def write_text(self, name: str, text: str) -> Path:
        return self.write(name, text.encode("utf-8"))

    def close(self) -> Path:
        """Remove stale files of an earlier write and record what this one wrote."""
        for name in sorted(self.previous - set(self.written)):
            path = self.root / _safe_name(name)  # checked again: only plain names directly in this folder
            if os.path.lexists(path) and not path.is_dir():
                os.unlink(path)  # unlink removes a link itself, never its target
        self.root.mkdir(parents=True, exist_ok=True)
        return self._write_manifest(sorted(self.written))

    def _write_manifest(self, names: list[str]) -> Path:
        manifest = {"version": MANIFEST_VERSION, "files": names}
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(manifest, handle, indent=2)
            handle.write("\n")
        os.replace(tmp, self.root / MANIFEST)
        return self.root / MANIFEST
