"""Locate the declarative material that ships with nono (grammar, backends, stdlib, profiles).

In a source checkout it sits at the repository's top level; in an installed wheel it
is packaged as ``nonoc/_data/<folder>``. Standard library only: the launcher uses it.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent
_FOLDERS = ("grammar", "backends", "stdlib", "profiles")


def data_dir(folder: str) -> Path:
    """Return the directory holding one of the shipped data folders."""
    if folder not in _FOLDERS:
        raise ValueError(f"unknown data folder {folder!r}")
    installed = _PACKAGE_DIR / "_data" / folder
    if installed.is_dir():
        return installed
    return _PACKAGE_DIR.parent / folder


def data_file(relative: str) -> Path:
    """Return the path of a shipped data file, e.g. ``data_file("grammar/nono.lark")``."""
    folder, _, rest = relative.partition("/")
    return data_dir(folder) / rest
