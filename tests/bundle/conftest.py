"""Fixtures for the bundle tests: an isolated home, a fake backend, hand-built policies.

Every test runs with ``HOME`` and the XDG directories in a temporary folder and with
the OS keyring replaced, so no test ever reads or writes the real user's keys.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from bundle_helpers import FakeBackend, MemoryKeyring

from nonoc.bundle import keys


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh HOME/XDG tree, no keyring (the headless case) unless a test installs one."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    # Subprocesses must not reach a real keyring either.
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    monkeypatch.setattr(keys, "_usable_keyring", lambda: None)
    yield home


@pytest.fixture
def memory_keyring(monkeypatch: pytest.MonkeyPatch) -> MemoryKeyring:
    """Install a working in-memory keyring."""
    backend = MemoryKeyring()
    monkeypatch.setattr(keys, "_usable_keyring", lambda: backend)
    return backend


@pytest.fixture
def backend() -> FakeBackend:
    """A fake backend counting its calls."""
    return FakeBackend()


@pytest.fixture
def source_file(tmp_path: Path) -> Path:
    """A real file standing for the policy's source, so the cache can re-hash it."""
    path = tmp_path / "work" / "demo.nono"
    path.parent.mkdir()
    path.write_text('profile demo { read "/usr" }\n')
    return path
