"""Fixtures for the library API tests: a private HOME and config (keys, trusted keys)."""

from __future__ import annotations

from private_home import isolated_home  # noqa: F401 - autouse fixture
