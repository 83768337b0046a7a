"""Fixtures for the trust tests: an isolated home and an in-memory keyring.

Every test runs with HOME and the XDG directories inside its own temporary folder, and
with keyring's "fail" backend (the headless case) unless it asks for ``memory_keyring``:
no test reads or writes the real user's keys, policy or keyring.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail
from trust_helpers import MemoryKeyring


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh HOME and XDG tree; no keyring unless the test installs one."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name, sub in (
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_CACHE_HOME", ".cache"),
        ("XDG_DATA_HOME", ".local/share"),
    ):
        monkeypatch.setenv(name, str(home / sub))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    monkeypatch.delenv("SIGSTORE_ID_TOKEN", raising=False)
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield home
    keyring.set_keyring(previous)


@pytest.fixture
def memory_keyring() -> MemoryKeyring:
    """Install a working in-memory keyring for the test."""
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    return backend


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working tree to sign files in; also the current directory."""
    tree = tmp_path / "project"
    tree.mkdir()
    monkeypatch.chdir(tree)
    return tree
