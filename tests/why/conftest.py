"""Fixtures for ``nono why``: the lint tests' scratch HOME and stdlib, no OS keyring."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.lint.lint_helpers import hermetic  # noqa: F401  (autouse: scratch HOME, test stdlib)


@pytest.fixture(autouse=True)
def no_keyring(monkeypatch: pytest.MonkeyPatch, hermetic: Path) -> None:  # noqa: F811
    """Signing keys live in the scratch config dir, never in the user's keyring."""
    from nonoc.bundle import keys

    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    monkeypatch.setattr(keys, "_usable_keyring", lambda: None)
