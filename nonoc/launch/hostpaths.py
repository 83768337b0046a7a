"""Turn a rule table's path templates into this host's real paths, opened with O_PATH.

``$HOME/.cache`` becomes ``/home/ada/.cache`` (``nonoc.paths.expand``), then its real path
(every symlink resolved), then a descriptor opened with ``O_PATH``. The descriptor is what
Landlock receives, and the path it names (read back from ``/proc/self/fd``) is what denies
are compared with: so a grant spelled through a symlink, or swapped for one after
``realpath`` ran, is still compared at the place the kernel will actually allow.

Missing paths: an optional grant is skipped; a required one stops the launch (exit 126).
An unset variable stops the launch too, naming the variable, unless only an optional grant
needed it. Standard library only.
"""

from __future__ import annotations

import os
import stat

from nonoc import paths
from nonoc.launch import rights


def sandbox_error(message: str) -> Exception:
    """A ``SandboxError`` (exit 126), its module imported only when one is raised."""
    from nonoc.launch.failure import sandbox_error as build

    return build(message)


TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs the launcher milliseconds at run time
    from collections.abc import Callable, Iterable, Mapping
    from typing import Any

#: Flags for every descriptor handed to Landlock: no read or write access is opened.
O_PATH_FLAGS = os.O_PATH | os.O_CLOEXEC


class Grant:
    """A grant on this host: rule id, the real path, its rights and the O_PATH descriptor.

    ``split_of`` names the rule id of the granted tree this entry was split from (see
    ``nonoc.launch.denies``); it is ``None`` for a grant as the bundle wrote it.
    """

    __slots__ = ("access", "fd", "is_dir", "optional", "path", "rule_id", "split_of", "template")

    def __init__(
        self,
        rule_id: str,
        template: str,
        path: str,
        is_dir: bool,
        access: list[str],
        fd: int,
        *,
        optional: bool = True,
        split_of: str | None = None,
    ) -> None:
        self.rule_id = rule_id
        self.template = template
        self.path = path
        self.is_dir = is_dir
        self.access = access
        self.fd = fd
        self.optional = optional
        self.split_of = split_of

    def __repr__(self) -> str:
        kind = "dir" if self.is_dir else "file"
        return f"Grant({self.rule_id!r}, {self.path!r}, {kind}, {self.access})"


class Deny:
    """A deny on this host: the real path(s) no grant may reach.

    ``paths`` holds the fully resolved path and, when the denied name is itself a symlink,
    the link's own place too (so the link cannot be replaced by a real directory either).
    """

    __slots__ = ("paths", "rule_id", "template")

    def __init__(self, rule_id: str, template: str, paths: tuple[str, ...]) -> None:
        self.rule_id = rule_id
        self.template = template
        self.paths = paths

    def __repr__(self) -> str:
        return f"Deny({self.rule_id!r}, {self.paths!r})"


class Skip:
    """A rule left out on this host, and why (missing optional path, unset variable…)."""

    __slots__ = ("reason", "rule_id", "template")

    def __init__(self, rule_id: str, template: str, reason: str) -> None:
        self.rule_id = rule_id
        self.template = template
        self.reason = reason

    def __repr__(self) -> str:
        return f"Skip({self.rule_id!r}, {self.reason!r})"


def fd_path(fd: int, fallback: str) -> str:
    """The path the kernel holds for ``fd`` (``fallback`` when /proc is not mounted)."""
    try:
        found = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return fallback
    return found if found.startswith("/") else fallback


class RealPaths:
    """``os.path.realpath`` for many paths that share directories, one ``lstat`` each.

    A profile brings dozens of denies under the same few directories (``$HOME``,
    ``$HOME/.config``…); ``os.path.realpath`` re-walks every component of each. Here a
    resolved directory is remembered, so each path costs the ``lstat`` of its last
    component; a symlink is handed to ``os.path.realpath`` itself. As with
    ``realpath(strict=False)``, what does not exist is kept as written.

    ``survey`` goes further for a directory holding many of the paths: one listing of it
    (bounded, see ``_SURVEY_FACTOR``) answers for all of them, where most would otherwise
    be an ``lstat`` failing with ENOENT (a denied ``~/.aws`` is usually absent).
    """

    #: A directory is listed once it holds at least this many of the paths asked about...
    _SURVEY_MIN = 8
    #: ...and the listing is abandoned (each path then gets its ``lstat``) after this many
    #: entries per path asked about, plus ``_SURVEY_SLACK``: an entry costs about a quarter
    #: of a failing ``lstat`` here, so a huge directory costs at most what it saves.
    _SURVEY_FACTOR = 4
    _SURVEY_SLACK = 32

    def __init__(self) -> None:
        self._known: dict[str, str] = {"/": "/"}
        #: Resolved places whose ``lstat`` failed: what lies beneath them fails the same way
        #: (ENOENT, ENOTDIR, EACCES…), so it is kept as written without asking the kernel.
        self._failed: set[str] = set()
        #: Real directory -> {entry name: whether it is a symlink}, from ``survey``.
        self._listed: dict[str, dict[str, bool]] = {}

    def survey(self, paths: Iterable[str]) -> None:
        """List, once each, the directories that hold many of the absolute ``paths``
        (normalised: as ``os.path.normpath`` gives them)."""
        wanted: dict[str, int] = {}
        for path in paths:
            cut = path.rfind("/")
            if cut >= 0 and cut < len(path) - 1:
                parent = path[:cut] or "/"
                wanted[parent] = wanted.get(parent, 0) + 1
        for parent, count in wanted.items():
            if count < self._SURVEY_MIN:
                continue
            base = self._resolve(parent)
            if base in self._failed or base in self._listed:
                continue
            listing = _listing(base, count * self._SURVEY_FACTOR + self._SURVEY_SLACK)
            if listing is not None:
                self._listed[base] = listing

    def __call__(self, path: str) -> str:
        """The real path of ``path`` (relative paths are left to ``os.path.realpath``)."""
        if not path.startswith("/"):
            return os.path.realpath(path)
        return self._resolve(os.path.normpath(path))

    def placed(self, path: str) -> tuple[str, ...]:
        """The real path of absolute, normalised ``path``, then, if different, the place of
        its last component in its real parent directory (where a symlink ``path`` lives)."""
        real = self._resolve(path)
        cut = path.rfind("/")
        if cut < 0 or cut == len(path) - 1:
            return (real,)
        base = self._resolve(path[:cut] or "/")
        place = f"{base}{path[cut:]}" if base != "/" else path[cut:]
        return (real,) if place == real else (real, place)

    def _resolve(self, path: str) -> str:
        found = self._known.get(path)
        if found is not None:
            return found
        cut = path.rfind("/")
        base = self._resolve(path[:cut] or "/")
        candidate = f"{base}{path[cut:]}" if base != "/" else path[cut:]
        if base in self._failed:
            real = candidate
            self._failed.add(candidate)
        else:
            listing = self._listed.get(base)
            if listing is not None:
                link = listing.get(path[cut + 1 :])
                if link is None:
                    self._failed.add(candidate)  # not in its directory: missing
                is_link = bool(link)
            else:
                try:
                    is_link = stat.S_ISLNK(os.lstat(candidate).st_mode)
                except OSError:
                    # Missing (or unreadable): kept as written, like realpath(strict=False).
                    self._failed.add(candidate)
                    is_link = False
            real = os.path.realpath(candidate) if is_link else candidate
        self._known[path] = real
        return real


def _listing(directory: str, bound: int) -> dict[str, bool] | None:
    """``directory``'s entries (name -> is a symlink), or None if unreadable or > ``bound``."""
    found: dict[str, bool] = {}
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                if len(found) >= bound:
                    return None
                found[entry.name] = entry.is_symlink()
    except OSError:
        return None
    return found


def resolve_grants(
    rules: Iterable[Mapping[str, Any]],
    values: Mapping[str, str],
    describe: Callable[[str], str],
) -> tuple[list[Grant], list[Skip]]:
    """Open every grant of the table; return the grants and the rules skipped on this host.

    ``describe(rule_id)`` names a rule with its provenance in error messages. Raises
    ``SandboxError`` (exit 126) for a required grant that is missing or whose variable is
    unset. Descriptors of returned grants are open: the caller closes them.
    """
    grants: list[Grant] = []
    skipped: list[Skip] = []
    realpath = RealPaths()
    try:
        for rule in rules:
            rule_id, template = str(rule["id"]), str(rule["path"])
            kind, optional = str(rule.get("kind", "tree")), bool(rule.get("optional", True))
            access = list(rule["access"])
            try:
                expanded = paths.expand(template, values)
            except paths.UnsetVariable as exc:
                reason = f"${exc.name} is not set"
                if optional:
                    skipped.append(Skip(rule_id, template, reason))
                    continue
                raise sandbox_error(
                    f"{describe(rule_id)}: {reason}; cannot resolve {template}"
                ) from exc
            real = realpath(expanded)
            try:
                fd = os.open(real, O_PATH_FLAGS)
            except OSError as exc:
                reason = f"{expanded}: {exc.strerror}"
                if optional:
                    skipped.append(Skip(rule_id, template, reason))
                    continue
                raise sandbox_error(f"{describe(rule_id)}: required path {reason}") from exc
            is_dir = stat.S_ISDIR(os.fstat(fd).st_mode)
            if kind == "file" and is_dir:
                os.close(fd)
                reason = f"{real} is a directory, but the rule is for a single file"
                if optional:
                    skipped.append(Skip(rule_id, template, reason))
                    continue
                raise sandbox_error(f"{describe(rule_id)}: {reason}")
            if not is_dir:
                # A tree rule that names a file can carry only the rights a file can have.
                access = rights.file_valid(access)
            grants.append(
                Grant(rule_id, template, fd_path(fd, real), is_dir, access, fd, optional=optional)
            )
    except BaseException:
        close_all(grants)
        raise
    return grants, skipped


def resolve_denies(
    rows: Iterable[Mapping[str, Any]], values: Mapping[str, str], describe: Callable[[str], str]
) -> list[Deny]:
    """Resolve every deny of the table to the real path(s) it protects on this host.

    A denied path need not exist: its place is still protected (nothing may be created
    there). An unset variable is an error: a deny that cannot be placed cannot be kept.
    """
    expanded: list[tuple[str, str, str]] = []
    for row in rows:
        rule_id, template = str(row["id"]), str(row["path"])
        try:
            path = os.path.normpath(paths.expand(template, values))
        except paths.UnsetVariable as exc:
            raise sandbox_error(
                f"{describe(rule_id)}: ${exc.name} is not set; cannot place deny {template}"
            ) from None
        if not path.startswith("/"):
            raise sandbox_error(f"{describe(rule_id)}: deny {template} is not an absolute path")
        expanded.append((rule_id, template, path))
    realpath = RealPaths()
    realpath.survey(path for _, _, path in expanded)
    return [Deny(rule_id, template, realpath.placed(path)) for rule_id, template, path in expanded]


def close_all(grants: Iterable[Grant]) -> None:
    """Close the descriptors of ``grants`` (ignoring ones already closed)."""
    for grant in grants:
        if grant.fd >= 0:
            try:
                os.close(grant.fd)
            except OSError:
                pass
            grant.fd = -1
