"""Canonical JSON: the one byte form of a value, so that equal bundles are equal files.

UTF-8, keys sorted, no whitespace, no floats (their text form is not stable across tools),
no sets (no order). A value that breaks these rules is a bug in whoever built it, so it
raises ``TypeError`` naming where in the document it sits.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def canonical_json(value: Any) -> bytes:
    """Encode ``value`` canonically (sorted keys, separators ``,`` and ``:``, UTF-8)."""
    _check(value, "$")
    text = json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode("utf-8")


def _check(value: Any, where: str) -> None:
    if value is None or isinstance(value, (bool, str)):
        return
    if isinstance(value, int):
        # Enums that subclass int would encode by value too, but say what they are.
        if type(value) is not int:
            raise TypeError(f"{where}: {type(value).__name__} is not a plain integer")
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where}: key {key!r} is not a string")
            _check(item, f"{where}.{key}")
        return
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check(item, f"{where}[{index}]")
        return
    raise TypeError(f"{where}: {type(value).__name__} has no canonical JSON form")
