"""The restore plan: which operations make the trees match a snapshot, in which order.

Removals deepest first (a directory after its contents); new directories shallowest first;
files and symlinks whose type or content differs; files whose content is right but whose
mode or mtime is not; directory modes last, deepest first. A path whose type changes
between file and directory is removed and recreated; a file replaced by a symlink (or the
reverse) is simply renamed over. With a selection of paths, the directories a selected
path needs are part of the plan too.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from nonoc.runtime.rollback.diff import within
from nonoc.runtime.rollback.manifest import Entry, sort_key


@dataclass
class Plan:
    """What restore will do, in the order it does it."""

    remove: list[Entry] = field(default_factory=list)
    mkdirs: list[Entry] = field(default_factory=list)
    writes: list[Entry] = field(default_factory=list)
    meta: list[Entry] = field(default_factory=list)
    dir_modes: list[Entry] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.remove or self.mkdirs or self.writes or self.meta or self.dir_modes)

    def steps(self) -> int:
        """How many operations the plan performs (for progress)."""
        return (
            len(self.remove)
            + len(self.mkdirs)
            + 2 * len(self.writes)
            + len(self.meta)
            + len(self.dir_modes)
        )


def make_plan(
    current: dict[str, Entry], target: dict[str, Entry], selection: Sequence[str] | None
) -> Plan:
    """Compare the trees now with the target snapshot and list the operations."""
    plan = Plan()
    needed = {p for p in target if within(p, selection)}
    if selection is not None:
        # A selected path needs its directories even when they were not selected.
        for path in list(needed):
            parent = os.path.dirname(path)
            while parent in target and parent not in needed:
                needed.add(parent)
                parent = os.path.dirname(parent)
    for path, present in current.items():
        if not (path in needed or within(path, selection)):
            continue
        wanted = target.get(path)
        if wanted is None or (wanted.type != present.type and "dir" in (wanted.type, present.type)):
            plan.remove.append(present)
    for path in needed:
        want, now = target[path], current.get(path)
        if want.type == "dir":
            if now is None or now.type != "dir":
                plan.mkdirs.append(want)
                plan.dir_modes.append(want)
            elif now.mode != want.mode:
                plan.dir_modes.append(want)
        elif now is None or not now.same_content(want):
            plan.writes.append(want)
        elif want.type == "file" and (now.mode != want.mode or now.mtime_ns != want.mtime_ns):
            plan.meta.append(want)
    plan.remove.sort(key=lambda e: sort_key(e.path), reverse=True)
    plan.mkdirs.sort(key=lambda e: sort_key(e.path))
    plan.writes.sort(key=lambda e: sort_key(e.path))
    plan.meta.sort(key=lambda e: sort_key(e.path))
    plan.dir_modes.sort(key=lambda e: sort_key(e.path), reverse=True)
    return plan
