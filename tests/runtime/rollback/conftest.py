"""Fixtures for the rollback tests: a store, a project tree, and an exact picture of a tree."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from nonoc.runtime.rollback import SnapshotStore
from nonoc.runtime.rollback import store as store_module

#: path -> (type, mode, content or link target, mtime_ns for files)
TreeState = dict[str, tuple[str, int, bytes | str | None, int | None]]


def capture(root: Path) -> TreeState:
    """Everything restore must reproduce, for every path under ``root`` (root included)."""
    state: TreeState = {}
    for directory, dirnames, filenames in os.walk(root):
        for name in [".", *dirnames, *filenames]:
            path = os.path.normpath(os.path.join(directory, name))
            if name == "." and directory != str(root):
                continue
            rel = os.path.relpath(path, root)
            st = os.lstat(path)
            mode = stat.S_IMODE(st.st_mode)
            if stat.S_ISLNK(st.st_mode):
                state[rel] = ("symlink", 0, os.readlink(path), None)
            elif stat.S_ISDIR(st.st_mode):
                state[rel] = ("dir", mode, None, None)
            else:
                state[rel] = ("file", mode, Path(path).read_bytes(), st.st_mtime_ns)
        # os.walk lists symlinks to directories among dirnames but never enters them.
    return state


@pytest.fixture
def capture_tree() -> Callable[[Path], TreeState]:
    """The :func:`capture` function."""
    return capture


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SnapshotStore:
    """A store under the test's own state directory.

    Files in tests are written moments before they are snapshotted, inside the window
    where timestamps cannot prove a file unchanged; the margin is set to zero so that
    incremental behaviour is observable (one test checks the margin itself).
    """
    monkeypatch.setattr(store_module, "RACY_NS", 0)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return SnapshotStore(tmp_path / "state" / "nono" / "rollback", durable=False)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A small project: files, a script, a symlink, an empty directory, nested dirs."""
    root = tmp_path / "project"
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "docs").mkdir()
    (root / "empty").mkdir()
    (root / "src" / "app.py").write_text("print('hello')\n")
    (root / "src" / "pkg" / "__init__.py").write_text("")
    (root / "src" / "pkg" / "util.py").write_text("def f():\n    return 1\n")
    (root / "docs" / "readme.md").write_text("# Project\n" * 50)
    (root / "run.sh").write_text("#!/bin/sh\necho run\n")
    os.chmod(root / "run.sh", 0o755)
    (root / "secret.txt").write_bytes(os.urandom(4096))
    os.chmod(root / "secret.txt", 0o600)
    os.symlink("src/app.py", root / "app-link")
    os.symlink("../outside-does-not-exist", root / "dangling")
    return root
