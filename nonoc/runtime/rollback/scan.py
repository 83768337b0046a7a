"""Walk the trees to snapshot: stat every path once, decide what is recorded, hash nothing.

The walk never follows a symlink (it records the link), never leaves the root's
filesystem (reported), and decides exclusions as :mod:`rules` describes. Directory sizes
are summed bottom-up so that a directory over the size limit is dropped whole, at the
deepest level that crosses the limit; its walk stops as soon as it does, which bounds the
time spent in a huge tree.

``ignore_source`` says where ``.gitignore`` text comes from: the disk for a snapshot, the
target snapshot's own objects for the scan that precedes a restore (so that a
``.gitignore`` written by the agent cannot hide its files from being undone).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from nonoc.runtime.rollback import gitignore
from nonoc.runtime.rollback.manifest import Entry, sort_key, symlink_digest
from nonoc.runtime.rollback.rules import RollbackOptions, exclusion_reason

_DIR, _REG, _LNK = stat.S_IFDIR, stat.S_IFREG, stat.S_IFLNK

#: Absolute directory path -> text of its ``.gitignore`` (None when there is none).
IgnoreSource = Callable[[str], bytes | None]


@dataclass(frozen=True)
class Exclusion:
    """A path left out of a snapshot, and why."""

    path: str
    reason: str
    size: int | None = None

    def to_json(self) -> dict[str, object]:
        """A JSON-able form."""
        data: dict[str, object] = {"path": self.path, "reason": self.reason}
        if self.size is not None:
            data["size"] = self.size
        return data


@dataclass
class Scan:
    """The result of a walk: entries (files not yet hashed) and what was left out."""

    roots: list[str]
    entries: list[Entry] = field(default_factory=list)
    excluded: list[Exclusion] = field(default_factory=list)
    ignored: int = 0


def read_gitignore(directory: str) -> bytes | None:
    """The ``.gitignore`` in ``directory`` on disk, not following a symlink."""
    try:
        fd = os.open(
            os.path.join(directory, ".gitignore"), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
        )
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


class TreeScanner:
    """Walks roots under one set of :class:`RollbackOptions`."""

    def __init__(
        self,
        options: RollbackOptions,
        ignore_source: IgnoreSource | None = None,
        never: frozenset[str] = frozenset(),
    ) -> None:
        self.options = options
        self.ignore_source = ignore_source or read_gitignore
        #: Directories never recorded whatever the options say: nono's own state (a store
        #: that snapshotted itself would grow without end, and restore would rewrite it).
        self.never = never
        self.include = gitignore.PatternList(options.include)
        self.exclude = gitignore.PatternList(options.exclude)
        self.excluded_dirs = frozenset(options.excluded_dirs)
        self.limit = options.dir_size_limit
        self._scan = Scan([])

    def scan(self, roots: Sequence[str]) -> Scan:
        """Walk every root (absolute, symlink-free paths) and return what to record."""
        self._scan = result = Scan(list(roots))
        for root in roots:
            try:
                st = os.lstat(root)
            except FileNotFoundError:
                continue
            if stat.S_ISDIR(st.st_mode):
                result.entries.append(_entry(root, "dir", st))
                sub, _, _ = self._walk(root, "", st.st_dev, (), passthrough=False, droppable=False)
                result.entries.extend(sub)
            elif stat.S_ISREG(st.st_mode):
                result.entries.append(_entry(root, "file", st))
            elif stat.S_ISLNK(st.st_mode):
                result.entries.append(_link_entry(root, st))
        result.entries.sort(key=lambda e: sort_key(e.path))
        return result

    def _walk(
        self,
        directory: str,
        rel_dir: str,
        dev: int,
        stack: tuple[gitignore.IgnoreFile, ...],
        *,
        passthrough: bool,
        droppable: bool,
    ) -> tuple[list[Entry], int, bool]:
        """Entries below ``directory``, their total size, and whether the size limit was hit."""
        out: list[Entry] = []
        total = 0
        if self.options.use_gitignore and not passthrough:
            text = self.ignore_source(directory)
            if text is not None:
                parsed = gitignore.parse(text.decode("utf-8", "surrogateescape"), rel_dir)
                stack = (*stack, parsed)
        try:
            with os.scandir(directory) as it:
                children = list(it)
        except OSError as exc:
            self._scan.excluded.append(Exclusion(directory, f"unreadable ({exc.strerror})"))
            return out, 0, False
        include = self.include if self.include else None
        screened = bool(self.exclude) or bool(stack) or passthrough
        excluded_dirs = self.excluded_dirs
        limit = self.limit
        # The loop runs once per path of every snapshot: it is written for speed (inline
        # mode tests, no helper calls for the common case of a plain file).
        for child in children:
            name = child.name
            rel = f"{rel_dir}/{name}" if rel_dir else name
            try:
                st = child.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            fmt = st.st_mode & 0o170000
            is_dir = fmt == _DIR
            forced = include is not None and include.matches(rel, is_dir)
            if (
                not forced
                and (screened or (is_dir and name in excluded_dirs))
                and (passthrough or self._left_out(child.path, rel, name, is_dir, stack))
            ):
                if is_dir and include is not None and include.may_match_below(rel):
                    # Something inside was asked for by an include pattern: keep only that.
                    sub, _, _ = self._walk(
                        child.path, rel, dev, stack, passthrough=True, droppable=False
                    )
                    if sub:
                        out.append(_entry(child.path, "dir", st))
                        out.extend(sub)
                continue
            if fmt == _REG:
                size = st.st_size
                if size > limit and not forced:
                    self._scan.excluded.append(Exclusion(child.path, "file over size limit", size))
                    continue
                out.append(
                    Entry(
                        child.path,
                        "file",
                        st.st_mode & 0o7777,
                        size,
                        "",
                        None,
                        st.st_mtime_ns,
                        st.st_ctime_ns,
                        st.st_ino,
                        st.st_dev,
                    )
                )
                total += size
            elif fmt == _LNK:
                out.append(_link_entry(child.path, st))
            elif is_dir:
                if child.path in self.never:
                    self._scan.excluded.append(Exclusion(child.path, "nono's own state"))
                    continue
                if self.options.one_filesystem and st.st_dev != dev:
                    self._scan.excluded.append(Exclusion(child.path, "another filesystem"))
                    continue
                sub, size, over = self._walk(
                    child.path, rel, dev, stack, passthrough=False, droppable=not forced
                )
                if over:
                    self._scan.excluded.append(
                        Exclusion(child.path, "directory over size limit", size)
                    )
                    continue
                out.append(_entry(child.path, "dir", st))
                out.extend(sub)
                total += size
            else:
                self._scan.excluded.append(
                    Exclusion(child.path, f"unsupported type ({_kind(st.st_mode)})")
                )
                continue
            if droppable and total > limit:
                return [], total, True
        return out, total, False

    def _left_out(
        self, path: str, rel: str, name: str, is_dir: bool, stack: tuple[gitignore.IgnoreFile, ...]
    ) -> bool:
        """Apply the default, user and .gitignore exclusions (reporting or counting each)."""
        if is_dir and name in self.excluded_dirs:
            self._scan.excluded.append(Exclusion(path, exclusion_reason(name)))
            return True
        if self.exclude and self.exclude.matches(rel, is_dir):
            self._scan.ignored += 1
            return True
        # .gitignore files are always kept: restore reads them to apply the same rules.
        if stack and name != ".gitignore" and gitignore.is_ignored(stack, rel, is_dir):
            self._scan.ignored += 1
            return True
        return False


def _entry(path: str, kind: str, st: os.stat_result) -> Entry:
    return Entry(
        path,
        kind,  # type: ignore[arg-type]
        stat.S_IMODE(st.st_mode),
        st.st_size if kind == "file" else 0,
        "",
        None,
        st.st_mtime_ns,
        st.st_ctime_ns,
        st.st_ino,
        st.st_dev,
    )


def _link_entry(path: str, st: os.stat_result) -> Entry:
    target = os.readlink(path)
    entry = _entry(path, "symlink", st)
    entry.target = target
    entry.sha256 = symlink_digest(target)
    entry.size = len(os.fsencode(target))
    return entry


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "fifo"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
    ):
        if test(mode):
            return name
    return "unknown"
