"""Differences between two sets of entries: added, modified, deleted, with sizes.

A path is *modified* when its type, content (a symlink's target) or mode changed. A
directory is reported only when it appears, disappears or changes mode: its contents
speak for themselves. Renames show as a deletion plus an addition of the same content.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from nonoc.runtime.rollback.manifest import Entry, sort_key

ChangeKind = Literal["added", "modified", "deleted"]


@dataclass(frozen=True)
class Change:
    """One path that differs between ``old`` and ``new``."""

    path: str
    kind: ChangeKind
    old: Entry | None
    new: Entry | None

    @property
    def old_size(self) -> int | None:
        """Size before (None if the path did not exist)."""
        return self.old.size if self.old else None

    @property
    def new_size(self) -> int | None:
        """Size after (None if the path no longer exists)."""
        return self.new.size if self.new else None

    @property
    def what(self) -> tuple[str, ...]:
        """For a modification: which of ``type``, ``content``, ``target``, ``mode`` changed."""
        if self.old is None or self.new is None:
            return ()
        if self.old.type != self.new.type:
            return ("type",)
        parts = []
        if self.old.sha256 != self.new.sha256:
            parts.append("target" if self.new.type == "symlink" else "content")
        if self.new.type != "symlink" and self.old.mode != self.new.mode:
            parts.append("mode")
        return tuple(parts)

    def to_json(self) -> dict[str, object]:
        """A JSON-able form."""
        return {
            "path": self.path,
            "kind": self.kind,
            "type": (self.new or self.old).type,  # type: ignore[union-attr]
            "old_size": self.old_size,
            "new_size": self.new_size,
            "what": list(self.what),
        }


@dataclass
class TreeDiff:
    """Every change, sorted by path."""

    changes: list[Change] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.changes)

    def of_kind(self, kind: ChangeKind) -> list[Change]:
        """The changes of one kind."""
        return [c for c in self.changes if c.kind == kind]

    @property
    def added(self) -> list[Change]:
        """Paths that exist only in the newer set."""
        return self.of_kind("added")

    @property
    def modified(self) -> list[Change]:
        """Paths in both sets whose state differs."""
        return self.of_kind("modified")

    @property
    def deleted(self) -> list[Change]:
        """Paths that exist only in the older set."""
        return self.of_kind("deleted")

    def summary(self) -> str:
        """``+3 ~2 -1`` style counts."""
        return f"+{len(self.added)} ~{len(self.modified)} -{len(self.deleted)}"


def within(path: str, selection: Iterable[str] | None) -> bool:
    """Whether ``path`` is one of the selected paths or inside one of them."""
    if selection is None:
        return True
    return any(path == s or path.startswith(s.rstrip("/") + "/") for s in selection)


def diff_entries(
    old: Mapping[str, Entry], new: Mapping[str, Entry], selection: Iterable[str] | None = None
) -> TreeDiff:
    """Compare two path -> entry maps, optionally only inside ``selection``."""
    chosen = list(selection) if selection is not None else None
    changes: list[Change] = []
    for path in old.keys() | new.keys():
        if not within(path, chosen):
            continue
        before, after = old.get(path), new.get(path)
        if before is None:
            changes.append(Change(path, "added", None, after))
        elif after is None:
            changes.append(Change(path, "deleted", before, None))
        elif not before.same_state(after):
            changes.append(Change(path, "modified", before, after))
    changes.sort(key=lambda c: sort_key(c.path))
    return TreeDiff(changes)
