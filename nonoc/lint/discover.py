"""Which files ``nonoc check`` and ``nonoc fmt`` work on: ``.nono`` files, given or found.

A directory stands for every ``.nono`` file beneath it, except inside hidden directories
(``.git``, ``.venv``) and dependency folders, which hold nobody's policy. The order is
sorted, so output is stable across runs and machines.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from nonoc.errors import UsageError

#: Directories never searched: version control, virtualenvs, package caches.
SKIPPED_DIRS = frozenset({"node_modules", "__pycache__", "site-packages"})


def policy_files(paths: Iterable[str]) -> list[str]:
    """The ``.nono`` files named by ``paths`` (files as given, directories searched).

    A path that does not exist is a usage error (exit 2); so is a search that finds
    nothing at all, since a CI job that checks no file should not pass silently.
    """
    found: list[str] = []
    given = list(paths) or ["."]
    for path in given:
        if os.path.isdir(path):
            found.extend(_search(path))
        elif os.path.isfile(path):
            found.append(os.path.normpath(path))
        else:
            raise UsageError(f"no such file or directory: {path}")
    unique = sorted(dict.fromkeys(found))
    if not unique:
        raise UsageError(f"no .nono files in {', '.join(given)}")
    return unique


def _search(root: str) -> list[str]:
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIPPED_DIRS)
        for name in sorted(files):
            if name.endswith(".nono"):
                found.append(os.path.normpath(os.path.join(folder, name)))
    return found
