"""File operations inside one tree that never follow a symlink out of it.

Every operation starts from a descriptor of the tree's root and opens each directory on
the way with ``O_NOFOLLOW | O_DIRECTORY``: if an agent replaced ``src`` with a symlink to
``/etc``, restoring ``src/app.py`` fails on ``src`` (ELOOP / ENOTDIR) instead of writing
into ``/etc``. The last component is always acted on without following it either
(unlink, rename, mkdir and symlink never follow; mode and times go through an
``O_PATH | O_NOFOLLOW`` descriptor).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_HAS_O_PATH = hasattr(os, "O_PATH") and os.path.isdir("/proc/self/fd")
_PATH_FLAGS = getattr(os, "O_PATH", os.O_RDONLY) | os.O_NOFOLLOW | os.O_CLOEXEC


class TreeHandle:
    """Operations on paths relative to one root directory (``""`` is the root itself)."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.fd = os.open(root, _DIR_FLAGS)

    def close(self) -> None:
        """Release the root's descriptor."""
        os.close(self.fd)

    def __enter__(self) -> TreeHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def parent(self, rel: str) -> Iterator[tuple[int, str]]:
        """The descriptor of ``rel``'s parent directory (reached without symlinks) and its name."""
        parts = rel.split("/")
        fd = os.dup(self.fd)
        try:
            for part in parts[:-1]:
                nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
                os.close(fd)
                fd = nxt
            yield fd, parts[-1]
        finally:
            os.close(fd)

    def lstat(self, rel: str) -> os.stat_result | None:
        """``lstat`` of ``rel``, or None when it (or a directory on the way) is missing."""
        if not rel:
            return os.fstat(self.fd)
        try:
            with self.parent(rel) as (fd, name):
                return os.stat(name, dir_fd=fd, follow_symlinks=False)
        except (FileNotFoundError, NotADirectoryError):
            return None

    def unlink(self, rel: str) -> None:
        """Remove a file or symlink (missing is fine)."""
        try:
            with self.parent(rel) as (fd, name):
                os.unlink(name, dir_fd=fd)
        except FileNotFoundError:
            pass

    def rmdir(self, rel: str) -> bool:
        """Remove an empty directory; False when it still holds something (left-out content)."""
        try:
            with self.parent(rel) as (fd, name):
                os.rmdir(name, dir_fd=fd)
        except FileNotFoundError:
            return True
        except OSError as exc:
            if exc.errno in (39, 66):  # ENOTEMPTY, EEXIST on some systems
                return False
            raise
        return True

    def mkdir(self, rel: str, mode: int) -> None:
        """Create a directory (its final mode is set later, after its contents)."""
        with self.parent(rel) as (fd, name):
            os.mkdir(name, mode | 0o700, dir_fd=fd)

    def create(self, rel: str) -> int:
        """Create a new file exclusively; return a write descriptor."""
        with self.parent(rel) as (fd, name):
            return os.open(
                name,
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                0o600,
                dir_fd=fd,
            )

    def symlink(self, rel: str, target: str) -> None:
        """Create a symlink at ``rel`` pointing at ``target`` (which is never resolved)."""
        with self.parent(rel) as (fd, name):
            os.symlink(target, name, dir_fd=fd)

    def rename(self, src_rel: str, dst_rel: str) -> None:
        """Atomically replace ``dst_rel`` with ``src_rel`` (same directory or not)."""
        with self.parent(src_rel) as (sfd, sname), self.parent(dst_rel) as (dfd, dname):
            os.rename(sname, dname, src_dir_fd=sfd, dst_dir_fd=dfd)

    def set_mode(self, rel: str, mode: int) -> None:
        """chmod ``rel`` without following it (refuses a symlink)."""
        if not rel:
            os.fchmod(self.fd, mode)
        elif not _HAS_O_PATH:
            with self.parent(rel) as (fd, name):
                os.chmod(name, mode, dir_fd=fd, follow_symlinks=False)
        else:
            with self._opath(rel) as path:
                os.chmod(path, mode)

    def set_mtime(self, rel: str, mtime_ns: int) -> None:
        """Set access and modification times of ``rel`` without following it."""
        if not rel:
            os.utime(self.fd, ns=(mtime_ns, mtime_ns))
        elif not _HAS_O_PATH:
            with self.parent(rel) as (fd, name):
                os.utime(name, ns=(mtime_ns, mtime_ns), dir_fd=fd, follow_symlinks=False)
        else:
            with self._opath(rel) as path:
                os.utime(path, ns=(mtime_ns, mtime_ns))

    @contextmanager
    def _opath(self, rel: str) -> Iterator[str]:
        """A ``/proc/self/fd`` path for an ``O_PATH`` descriptor of ``rel`` (not a symlink).

        Linux has no ``fchmodat(AT_SYMLINK_NOFOLLOW)`` for most filesystems; changing the
        inode through its ``/proc/self/fd`` link is the usual way to get the same effect.
        """
        with self.parent(rel) as (fd, name):
            target = os.open(name, _PATH_FLAGS, dir_fd=fd)
            try:
                if stat.S_ISLNK(os.fstat(target).st_mode):
                    raise OSError(40, "refusing to change a symlink", rel)  # ELOOP
                yield f"/proc/self/fd/{target}"
            finally:
                os.close(target)
