"""Fixtures for the Seatbelt backend's tests."""

from __future__ import annotations

import pytest
from seatbelt_sbpl import Vocabulary, shared_data_file

OPERATIONS_FILE = "sbpl_operations.txt"


@pytest.fixture(scope="session")
def vocabulary() -> Vocabulary:
    """The 208 SBPL operation names from shared/data (skips, saying why, when it is absent)."""
    path = shared_data_file(OPERATIONS_FILE)
    if path is None:
        pytest.skip(
            f"shared/data/{OPERATIONS_FILE} is not beside the repository: "
            "cannot check operation names"
        )
    return Vocabulary.load(path)


@pytest.fixture(scope="session")
def vocabulary_if_present() -> Vocabulary | None:
    """The operation names when shared/data is there; None lets goldens run without it."""
    path = shared_data_file(OPERATIONS_FILE)
    return Vocabulary.load(path) if path else None
