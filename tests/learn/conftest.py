"""Fixtures for the learn tests: a private HOME and config."""

from __future__ import annotations

from private_home import isolated_home  # noqa: F401 - autouse fixture
