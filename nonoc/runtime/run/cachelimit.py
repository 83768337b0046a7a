"""Keep the compile cache under the ``cache_size`` setting: drop the least recently written.

Runs after a compile that missed the cache (never on a hit: a hit must stay cheap). Bundle
objects are removed oldest first until the cache fits, except the one just compiled;
index entries whose object is gone are removed with them (a lookup would miss anyway).
"""

from __future__ import annotations

import hashlib
import os


def prune(max_bytes: int, *, keep: bytes | None = None) -> int:
    """Remove cached bundles until ``bundles/`` holds at most ``max_bytes``; return bytes freed."""
    from nonoc.bundle.cache import bundles_dir

    root = bundles_dir()
    objects_dir = os.path.join(root, "objects")
    index_dir = os.path.join(root, "index")
    kept = f"{hashlib.sha256(keep).hexdigest()}.bundle" if keep is not None else None
    objects = _entries(objects_dir)
    indexes = _entries(index_dir)
    total = sum(size for _, size, _ in objects) + sum(size for _, size, _ in indexes)
    freed = 0
    removed: set[str] = set()
    for name, size, _ in sorted(objects, key=lambda entry: entry[2]):
        if total - freed <= max_bytes:
            break
        if name == kept:
            continue
        try:
            os.unlink(os.path.join(objects_dir, name))
        except OSError:
            continue
        freed += size
        removed.add(name.removesuffix(".bundle"))
    if removed:
        freed += _drop_orphans(index_dir, indexes, removed)
    return freed


def _entries(directory: str) -> list[tuple[str, int, int]]:
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    found = []
    for name in names:
        try:
            info = os.stat(os.path.join(directory, name))
        except OSError:
            continue
        found.append((name, info.st_size, info.st_mtime_ns))
    return found


def _drop_orphans(index_dir: str, indexes: list[tuple[str, int, int]], removed: set[str]) -> int:
    import json

    freed = 0
    for name, size, _ in indexes:
        path = os.path.join(index_dir, name)
        try:
            with open(path, "rb") as handle:
                bundle = json.loads(handle.read()).get("bundle")
        except (OSError, ValueError, AttributeError):
            continue
        if bundle in removed:
            try:
                os.unlink(path)
                freed += size
            except OSError:
                pass
    return freed
