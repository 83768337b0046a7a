"""Fixtures for the launcher tests: the running kernel's Landlock ABI, a scratch tree."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nonoc.launch import landlock


@pytest.fixture(scope="session")
def kernel_abi() -> int:
    """The running kernel's Landlock ABI; skips the test when Landlock is absent."""
    abi = landlock.abi_version()
    if abi <= 0:
        pytest.skip("this kernel has no Landlock (absent or not enabled at boot)")
    return abi


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A scratch tree: ro/ (one file), rw/ (one file, one dir), none/ (one file)."""
    root = tmp_path.resolve()
    for name in ("ro", "rw", "rw2", "none"):
        (root / name).mkdir()
        (root / name / "file").write_text(name)
    (root / "rw" / "sub").mkdir()
    return root


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """An isolated HOME/XDG tree with one trusted Ed25519 key; returns the environment."""
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return {**os.environ, **env}
