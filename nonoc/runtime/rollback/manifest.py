"""What a snapshot records: one entry per path, and the Merkle root that commits to them.

An entry is ``(path, type, mode, content hash)`` plus the stat fields that let the next
snapshot skip re-hashing an unchanged file (size, mtime, ctime, inode, device). Paths are
absolute, so one snapshot may span several roots. A symlink's "content hash" is the
SHA-256 of its target; a directory has none.

The Merkle root is the RFC 6962 tree hash over the entries sorted by path bytes: a leaf is
``SHA-256(0x00 || type NUL path NUL mode-in-octal NUL hash)``, an inner node
``SHA-256(0x01 || left || right)``, the empty tree ``SHA-256("")``. Only those four fields are
committed to: the stat fields are a cache, not content.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

EntryType = Literal["file", "dir", "symlink"]

#: Column order of an entry in a manifest: rows, not objects, keep a 10,000-file
#: manifest quick to write and to read back (it is read by every incremental snapshot).
FIELDS: tuple[str, ...] = (
    "path",
    "type",
    "mode",
    "size",
    "sha256",
    "target",
    "mtime_ns",
    "ctime_ns",
    "ino",
    "dev",
)


@dataclass(slots=True)
class Entry:
    """One path in a snapshot."""

    path: str
    type: EntryType
    mode: int
    size: int = 0
    sha256: str = ""
    target: str | None = None
    mtime_ns: int = 0
    ctime_ns: int = 0
    ino: int = 0
    dev: int = 0

    def same_content(self, other: Entry) -> bool:
        """Same type and content (target for a symlink); mode not considered."""
        return self.type == other.type and self.sha256 == other.sha256

    def same_state(self, other: Entry) -> bool:
        """What restore must reproduce: type, content and (except for symlinks) mode."""
        if not self.same_content(other):
            return False
        return self.type == "symlink" or self.mode == other.mode

    def to_json(self) -> dict[str, Any]:
        """A JSON-able form."""
        data: dict[str, Any] = {
            "path": self.path,
            "type": self.type,
            "mode": self.mode,
            "size": self.size,
            "sha256": self.sha256,
            "mtime_ns": self.mtime_ns,
            "ctime_ns": self.ctime_ns,
            "ino": self.ino,
            "dev": self.dev,
        }
        if self.target is not None:
            data["target"] = self.target
        return data

    def to_row(self) -> list[Any]:
        """The entry as a manifest row (see :data:`FIELDS`)."""
        return [
            self.path,
            self.type,
            self.mode,
            self.size,
            self.sha256,
            self.target,
            self.mtime_ns,
            self.ctime_ns,
            self.ino,
            self.dev,
        ]

    @classmethod
    def from_row(cls, row: list[Any]) -> Entry:
        """Read back what :meth:`to_row` wrote."""
        return cls(*row)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Entry:
        """Read back what :meth:`to_json` wrote."""
        return cls(
            data["path"],
            data["type"],
            int(data["mode"]),
            int(data.get("size", 0)),
            data.get("sha256", ""),
            data.get("target"),
            int(data.get("mtime_ns", 0)),
            int(data.get("ctime_ns", 0)),
            int(data.get("ino", 0)),
            int(data.get("dev", 0)),
        )


def symlink_digest(target: str) -> str:
    """The content hash recorded for a symlink: SHA-256 of its target's bytes."""
    return hashlib.sha256(os.fsencode(target)).hexdigest()


def leaf_hash(entry: Entry) -> bytes:
    """The Merkle leaf of one entry: SHA-256 of 0x00, type, path, mode (octal), hash, NUL-separated."""
    data = f"\0{entry.type}\0{entry.path}\0{entry.mode:o}\0{entry.sha256}"
    return hashlib.sha256(data.encode(_FS_ENCODING, "surrogateescape")).digest()


_FS_ENCODING = sys.getfilesystemencoding()


def merkle_root(entries: Iterable[Entry], *, presorted: bool = False) -> str:
    """The RFC 6962 tree hash over ``entries`` sorted by path bytes, in hex.

    ``presorted`` skips the sort for entries already in :func:`sort_key` order (a scan's).
    """
    ordered = list(entries) if presorted else sorted(entries, key=lambda e: os.fsencode(e.path))
    level = [leaf_hash(e) for e in ordered]
    if not level:
        return hashlib.sha256(b"").hexdigest()
    sha = hashlib.sha256
    while len(level) > 1:
        # Pairing level by level and promoting an odd last node gives the same tree as
        # RFC 6962's split at the largest power of two below n.
        nxt = [sha(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0].hex()


def sort_key(path: str) -> bytes:
    """Order of entries in a manifest (and of Merkle leaves)."""
    return os.fsencode(path)
