"""Denies at exec time: Landlock can only allow, so a deny is kept by what is *not* granted.

Once every path is real (symlinks resolved), three cases remain, compared by component:

* **a grant equal to or inside a deny** is dropped: the deny wins.
* **a deny inside a granted tree** cannot be expressed by Landlock, whose rules cover
  everything beneath them. With ``deny_strategy: refuse`` the launch stops (exit 126)
  naming both rules. With ``split`` the tree's grant is replaced by grants on each entry
  *beside* the way down to the denied path: only the directories on that way are listed
  (bounded work, never a walk of the tree), and those directories themselves get no right,
  since a right on them would reach the denied path again. The cost, documented in
  ``docs/security-model.md``: nothing new can be created directly in those directories,
  and listing them fails.
* anything else is left alone.

Entries beside the way are opened with ``O_NOFOLLOW`` relative to their directory's
descriptor, and symlinks among them get no rule: a link's target was never covered by the
granted tree through that link, and following it here would widen the grant.
Standard library only.
"""

from __future__ import annotations

import os

from nonoc.launch import rights
from nonoc.launch.hostpaths import Deny, Grant, close_all

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs the launcher milliseconds at run time
    from collections.abc import Callable, Iterable


#: Marks a denied entry in the tree of ways down to denies.
_DENIED: dict[str, object] = {}


def within(inner: str, outer: str) -> bool:
    """Whether real path ``inner`` equals or lies beneath real path ``outer`` (by component)."""
    if outer == "/":
        return True
    return inner == outer or inner.startswith(outer + "/")


class Dropped:
    """A grant left out because a deny covers it."""

    __slots__ = ("deny", "deny_path", "grant")

    def __init__(self, grant: Grant, deny: Deny, deny_path: str) -> None:
        self.grant, self.deny, self.deny_path = grant, deny, deny_path


class Split:
    """A granted tree replaced by grants on the entries beside the way(s) down to denies."""

    __slots__ = ("closed_dirs", "denies", "entries", "grant", "unlisted")

    def __init__(self, grant: Grant, denies: list[Deny]) -> None:
        self.grant = grant
        self.denies = denies
        #: The grants on entries beside the way (they replace ``grant``).
        self.entries: list[Grant] = []
        #: The directories on the way, which get no right at all.
        self.closed_dirs: list[str] = []
        #: Directories on the way that could not be listed (their entries get no right).
        self.unlisted: list[str] = []


def apply(
    grants: list[Grant],
    denies: list[Deny],
    strategy: str,
    describe: Callable[[str], str],
) -> tuple[list[Grant], list[Dropped], list[Split]]:
    """Return the grants to enforce, with what was dropped and split on the way.

    Raises ``SandboxError`` (exit 126) under ``refuse`` when a deny lies inside a granted
    tree. Descriptors of dropped and split grants are closed; the returned grants' are open.
    """
    kept: list[Grant] = []
    dropped: list[Dropped] = []
    splits: list[Split] = []
    index = 0
    try:
        for index, grant in enumerate(grants):  # noqa: B007 - the except closes grants[index:]
            cover = _covering(grant, denies)
            if cover is not None:
                dropped.append(Dropped(grant, cover[0], cover[1]))
                close_all([grant])
                continue
            inner = _inner(grant, denies) if grant.is_dir else []
            if not inner:
                kept.append(grant)
                continue
            if strategy != "split":
                from nonoc.launch.failure import sandbox_error

                deny, place = inner[0]
                raise sandbox_error(
                    f"{describe(deny.rule_id)}: deny of {place} lies inside granted tree "
                    f"{grant.path} ({describe(grant.rule_id)}); Landlock cannot deny inside an "
                    "allowed tree and the bundle asks deny_inside_allow refuse",
                    notes=(
                        "with deny_inside_allow split, nono grants the tree's other entries "
                        "instead",
                    ),
                )
            split = Split(grant, _unique(d for d, _ in inner))
            _split(grant, [place for _, place in inner], split)
            splits.append(split)
            kept.extend(split.entries)
            close_all([grant])
    except BaseException:
        close_all(kept)
        close_all(grants[index:])
        raise
    return kept, dropped, splits


def _covering(grant: Grant, denies: list[Deny]) -> tuple[Deny, str] | None:
    for deny in denies:
        for place in deny.paths:
            if within(grant.path, place):
                return deny, place
    return None


def _inner(grant: Grant, denies: list[Deny]) -> list[tuple[Deny, str]]:
    return [
        (deny, place)
        for deny in denies
        for place in deny.paths
        if place != grant.path and within(place, grant.path)
    ]


def _unique(denies: Iterable[Deny]) -> list[Deny]:
    seen: dict[str, Deny] = {}
    for deny in denies:
        seen.setdefault(deny.rule_id, deny)
    return list(seen.values())


def _ways(root: str, places: list[str]) -> dict[str, object]:
    """The tree of components from ``root`` down to each denied place; leaves are ``_DENIED``."""
    tree: dict[str, object] = {}
    for place in sorted(places, key=len):
        parts = [p for p in place[len(root.rstrip("/")) :].split("/") if p]
        node: dict[str, object] = tree
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if child is _DENIED:
                break  # a shorter deny already covers this one
            assert isinstance(child, dict)
            node = child
        else:
            node[parts[-1]] = _DENIED
    return tree


def _split(grant: Grant, places: list[str], split: Split) -> None:
    """Fill ``split`` with grants beside the ways from ``grant.path`` down to ``places``."""
    file_access = rights.file_valid(grant.access)
    directory_flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC

    def visit(dir_fd: int, dir_path: str, node: dict[str, object]) -> None:
        split.closed_dirs.append(dir_path)
        try:
            with os.scandir(dir_fd) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError:
            # Fail closed: an unlistable directory's entries simply get no right.
            split.unlisted.append(dir_path)
            return
        for entry in entries:
            path = os.path.join(dir_path, entry.name)
            child = node.get(entry.name)
            if child is _DENIED:
                continue
            if child is not None:
                assert isinstance(child, dict)
                if not entry.is_dir(follow_symlinks=False):
                    continue  # not a directory on the way after all: grant nothing there
                sub_fd = os.open(entry.name, directory_flags, dir_fd=dir_fd)
                try:
                    visit(sub_fd, path, child)
                finally:
                    os.close(sub_fd)
                continue
            if entry.is_symlink():
                continue
            try:
                fd = os.open(entry.name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
            except OSError:
                continue  # vanished since the listing: nothing to grant
            is_dir = entry.is_dir(follow_symlinks=False)
            split.entries.append(
                Grant(
                    grant.rule_id,
                    grant.template,
                    path,
                    is_dir,
                    list(grant.access) if is_dir else file_access,
                    fd,
                    optional=True,
                    split_of=grant.rule_id,
                )
            )

    root_fd = os.open(".", directory_flags, dir_fd=grant.fd)
    try:
        visit(root_fd, grant.path, _ways(grant.path, places))
    except BaseException:
        close_all(split.entries)
        raise
    finally:
        os.close(root_fd)
