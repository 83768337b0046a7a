"""The compile cache: an unchanged input is not compiled again.

Layout under ``$XDG_CACHE_HOME/nono/bundles/``:

- ``objects/<sha256>.bundle``: bundle files, named by the digest of their bytes;
- ``index/<request>.json``: for one compile request (the compiler's identity, the source
  named on the command line, targets, arch, signing key, flags), the files that
  contributed with their SHA-256, the warnings, and which object is the answer.

A lookup re-hashes the contributing files; any difference is a miss. So a hit never
parses anything and imports nothing heavy: standard library only, here and in the code
that computes the request.

The cache directory is often writable by the sandboxed agent (``~/.cache`` is a common
grant). An index entry therefore carries a MAC under the local secret kept beside the
trusted keys (``nonoc.launch.verify.local_secret``); an entry planted by anyone who cannot
read that secret is ignored, so a laxer old bundle cannot be passed off as a fresh compile.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from nonoc.bundle.canonical import canonical_json
from nonoc.bundle.keys import write_atomic
from nonoc.launch.verify import cache_dir, local_secret, mac

_INDEX_DOMAIN = b"nono-compile-cache/1\0"


@dataclass(frozen=True)
class CachedBundle:
    """A cache hit: the bundle bytes and the warnings its compile printed."""

    data: bytes
    warnings: tuple[str, ...]
    digest: str


def bundles_dir() -> str:
    """``$XDG_CACHE_HOME/nono/bundles``."""
    return os.path.join(cache_dir(), "bundles")


def _index_path(request: str) -> str:
    return os.path.join(bundles_dir(), "index", f"{request}.json")


def _object_path(digest: str) -> str:
    return os.path.join(bundles_dir(), "objects", f"{digest}.bundle")


def file_digest(path: str | os.PathLike[str]) -> str:
    """SHA-256 (hex) of a file's bytes."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def tree_stamp(roots: Iterable[str], suffixes: tuple[str, ...] = ()) -> str:
    """A digest of the names, sizes and modification times of the files under ``roots``.

    Cheap (``stat`` only). It stands for "the compiler's own code and data": an installed
    wheel never changes, and in a source checkout any edit changes the stamp.
    """
    digest = hashlib.sha256()
    for root in roots:
        entries: list[tuple[str, int, int]] = []
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__" and not d.startswith("."))
            for name in files:
                if suffixes and not name.endswith(suffixes):
                    continue
                path = os.path.join(folder, name)
                try:
                    info = os.stat(path)
                except OSError:
                    continue
                entries.append((os.path.relpath(path, root), info.st_size, info.st_mtime_ns))
        digest.update(repr((root, sorted(entries))).encode())
    return digest.hexdigest()


def request_digest(request: Mapping[str, Any]) -> str:
    """The digest naming one compile request (any JSON-able mapping of what shapes the output)."""
    return hashlib.sha256(canonical_json(dict(request))).hexdigest()


def lookup(request: str) -> CachedBundle | None:
    """The cached bundle for ``request`` if every contributing file is unchanged, else None."""
    secret = local_secret(create=False)
    if secret is None:
        return None
    try:
        entry = json.loads(_read(_index_path(request)))
        tag = entry.pop("mac")
    except (OSError, ValueError, AttributeError, KeyError, TypeError):
        return None
    if not hmac.compare_digest(str(tag).encode(), _mac(secret, request, entry).encode()):
        return None
    try:
        for path, digest in entry["files"].items():
            if file_digest(path) != digest:
                return None
        data = _read(_object_path(entry["bundle"]))
    except (OSError, KeyError, AttributeError, TypeError):
        return None
    digest = hashlib.sha256(data).hexdigest()
    if digest != entry["bundle"]:
        return None
    return CachedBundle(data=data, warnings=tuple(entry.get("warnings", ())), digest=digest)


def store(request: str, data: bytes, files: Mapping[str, str], warnings: Iterable[str]) -> bool:
    """Remember ``data`` as the answer to ``request`` given ``files`` (path -> SHA-256).

    Best effort: returns False (and the next compile is simply not cached) when the cache
    or the local secret cannot be written.
    """
    secret = local_secret(create=True)
    if secret is None:
        return False
    digest = hashlib.sha256(data).hexdigest()
    entry: dict[str, Any] = {
        "bundle": digest,
        "files": dict(sorted(files.items())),
        "warnings": list(warnings),
    }
    entry["mac"] = _mac(secret, request, entry)
    try:
        # The cache directory is the user's own (0700); the files hold nothing secret.
        write_atomic(_object_path(digest), data, mode=0o644, dir_mode=0o700)
        write_atomic(_index_path(request), canonical_json(entry), mode=0o644, dir_mode=0o700)
    except OSError:
        return False
    return True


def _mac(secret: bytes, request: str, entry: Mapping[str, Any]) -> str:
    body = {key: value for key, value in entry.items() if key != "mac"}
    return mac(secret, _INDEX_DOMAIN + request.encode() + b"\0" + canonical_json(body))


def _read(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()
