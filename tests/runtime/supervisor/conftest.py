"""Fixtures for the supervisor tests: a scratch tree outside every grant, and its environment."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from supervisor_helpers import environment, needs_kernel


@dataclass
class Tree:
    """``work`` is granted read-write by the test profiles; ``outside`` and ``home`` are not."""

    root: Path
    home: Path
    work: Path
    outside: Path
    secret: Path

    @property
    def env(self) -> dict[str, str]:
        """The environment the payload is resolved in and the child starts from."""
        return environment(self.home)


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    """A scratch tree: ``home/.ssh/id_ed25519`` (denied by the mandatory groups), ``work/``, ``outside/``."""
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
