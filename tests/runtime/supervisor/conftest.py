"""Fixtures for the supervisor tests: a scratch tree outside every grant, and its environment."""

from __future__ import annotations

from pathlib import Path

import pytest
from supervisor_helpers import Tree, needs_kernel


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    """A scratch tree: ``home/.ssh/id_ed25519`` (a mandatory deny), ``work/``, ``outside/``."""
    root = tmp_path.resolve()
    home, work, outside = root / "home", root / "work", root / "outside"
    for directory in (home / ".ssh", work, outside):
        directory.mkdir(parents=True)
    secret = home / ".ssh" / "id_ed25519"
    secret.write_text("PRIVATE KEY")
    (outside / "notes.txt").write_text("outside notes")
    (work / "inside.txt").write_text("inside")
    return Tree(root, home, work, outside, secret)


@pytest.fixture
def kernel() -> None:
    """Skip unless Landlock, seccomp user notification and pidfd_getfd are all here."""
    needs_kernel()
