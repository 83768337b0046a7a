"""A snapshot as stored: a summary (for listing) and a manifest (the summary plus entries).

On disk, ``snapshots/<id>/manifest.json`` is written first and ``summary.json`` second;
a snapshot exists once its summary does, so an interrupted write is never listed.
Both are canonical JSON (sorted keys). The Merkle root appears in both; ``verify``
recomputes it from the manifest's entries.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nonoc.runtime.rollback.fsio import atomic_write, sync_filesystem
from nonoc.runtime.rollback.manifest import FIELDS, Entry
from nonoc.runtime.rollback.rules import RollbackOptions
from nonoc.runtime.rollback.scan import Exclusion

FORMAT = "nono-snapshot/1"


def new_snapshot_id() -> str:
    """``YYYYMMDD-HHMMSS-xxxxxx`` (UTC): sorts by time, unique by its random tail."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


@dataclass
class Snapshot:
    """What is known about a snapshot without reading its entries."""

    id: str
    session: str
    label: str
    created: str
    started_ns: int
    roots: tuple[str, ...]
    merkle_root: str
    files: int = 0
    dirs: int = 0
    symlinks: int = 0
    total_bytes: int = 0
    options: RollbackOptions = field(default_factory=RollbackOptions)
    excluded: tuple[Exclusion, ...] = ()
    ignored: int = 0
    parent: str | None = None
    rules_from: str | None = None
    hashed_files: int = 0
    hashed_bytes: int = 0
    duration_ms: int = 0

    def to_json(self) -> dict[str, Any]:
        """A JSON-able form."""
        return {
            "format": FORMAT,
            "id": self.id,
            "session": self.session,
            "label": self.label,
            "created": self.created,
            "started_ns": self.started_ns,
            "roots": list(self.roots),
            "merkle_root": self.merkle_root,
            "files": self.files,
            "dirs": self.dirs,
            "symlinks": self.symlinks,
            "total_bytes": self.total_bytes,
            "options": self.options.to_json(),
            "excluded": [x.to_json() for x in self.excluded],
            "ignored": self.ignored,
            "parent": self.parent,
            "rules_from": self.rules_from or self.id,
            "hashed_files": self.hashed_files,
            "hashed_bytes": self.hashed_bytes,
            "duration_ms": self.duration_ms,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Snapshot:
        """Read back what :meth:`to_json` wrote."""
        if data.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} snapshot: {data.get('format')!r}")
        return cls(
            id=data["id"],
            session=data.get("session", ""),
            label=data.get("label", ""),
            created=data["created"],
            started_ns=int(data["started_ns"]),
            roots=tuple(data["roots"]),
            merkle_root=data["merkle_root"],
            files=int(data.get("files", 0)),
            dirs=int(data.get("dirs", 0)),
            symlinks=int(data.get("symlinks", 0)),
            total_bytes=int(data.get("total_bytes", 0)),
            options=RollbackOptions.from_json(data.get("options", {})),
            excluded=tuple(
                Exclusion(x["path"], x["reason"], x.get("size")) for x in data.get("excluded", ())
            ),
            ignored=int(data.get("ignored", 0)),
            parent=data.get("parent"),
            rules_from=data.get("rules_from"),
            hashed_files=int(data.get("hashed_files", 0)),
            hashed_bytes=int(data.get("hashed_bytes", 0)),
            duration_ms=int(data.get("duration_ms", 0)),
        )


def _dumps(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


def write_snapshot(
    directory: Path, snapshot: Snapshot, entries: list[Entry], *, durable: bool
) -> None:
    """Write the manifest, then the summary that makes the snapshot visible.

    With ``durable``, one filesystem sync makes the objects and the manifest durable
    before the summary is written (and fsynced): a snapshot is never visible before
    what it refers to is on disk.
    """
    directory.mkdir(parents=True, exist_ok=True)
    manifest = {
        "snapshot": snapshot.to_json(),
        "fields": list(FIELDS),
        "entries": [e.to_row() for e in entries],
    }
    atomic_write(directory / "manifest.json", _dumps(manifest), durable=False)
    if durable:
        sync_filesystem(directory)
    atomic_write(directory / "summary.json", _dumps(snapshot.to_json()), durable=durable)


def read_summary(directory: Path) -> Snapshot:
    """Load a snapshot's summary."""
    return Snapshot.from_json(json.loads((directory / "summary.json").read_bytes()))


def read_manifest_rows(directory: Path) -> tuple[Snapshot, list[list[Any]]]:
    """Load a snapshot's manifest with its entries as raw rows (see ``manifest.FIELDS``)."""
    data = json.loads((directory / "manifest.json").read_bytes())
    if tuple(data.get("fields", ())) != FIELDS:
        raise ValueError(f"unknown manifest columns {data.get('fields')!r}")
    return Snapshot.from_json(data["snapshot"]), data["entries"]


def read_manifest(directory: Path) -> tuple[Snapshot, list[Entry]]:
    """Load a snapshot's manifest: the summary it was written with and its entries."""
    snapshot, rows = read_manifest_rows(directory)
    return snapshot, [Entry(*row) for row in rows]
