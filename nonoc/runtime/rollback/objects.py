"""The content-addressed object store: one file per distinct content, named by its SHA-256.

Objects live at ``objects/<first two hex digits>/<remaining 62>`` so that no directory
holds more than a few thousand names. Identical content is stored once however many
files or snapshots share it. An object's name is its own checksum, which is what makes
``verify`` possible: re-hash the file and compare with its name.

Files are read with ``O_NOFOLLOW``: a path that became a symlink after the scan is not
followed out of the tree being snapshotted.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

#: Files up to this size are read in one piece; larger ones are streamed.
SMALL_FILE = 1 << 20
CHUNK = 1 << 20
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | getattr(os, "O_NOATIME", 0)


class ObjectStore:
    """SHA-256 addressed blobs under ``root`` (created on first use)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._base = str(
            self.root
        )  # string paths on the hot path: pathlib costs ~10% of a snapshot
        self._tmp = self.root / "tmp"
        self._shards: set[str] = set()
        self._noatime = bool(getattr(os, "O_NOATIME", 0))

    def path(self, digest: str) -> Path:
        """Where the object named ``digest`` lives (whether or not it exists)."""
        return self.root / digest[:2] / digest[2:]

    def has(self, digest: str) -> bool:
        """Whether the object is present."""
        return os.path.exists(self._file(digest))

    def size(self, digest: str) -> int:
        """The stored object's size in bytes (0 when it is missing)."""
        try:
            return os.stat(self.path(digest)).st_size
        except FileNotFoundError:
            return 0

    def put_bytes(self, data: bytes) -> str:
        """Store ``data``; return its digest."""
        digest = hashlib.sha256(data).hexdigest()
        if not self.has(digest):
            self._write_new(digest, data)
        return digest

    def put_file(self, path: str) -> tuple[str, int]:
        """Store the regular file at ``path`` without following a symlink; return (digest, size).

        The size is what was read, which may differ from an earlier ``stat`` when the file
        changes under us: the manifest records what was actually stored.
        """
        fd = self._open_source(path)
        try:
            first = os.read(fd, SMALL_FILE)
            if len(first) < SMALL_FILE:
                rest = os.read(fd, CHUNK)
                if not rest:
                    return self.put_bytes(first), len(first)
                return self._stream(fd, [first, rest])
            return self._stream(fd, [first])
        finally:
            os.close(fd)

    def open(self, digest: str) -> int:
        """Open the object for reading; return a file descriptor the caller closes."""
        return os.open(self.path(digest), os.O_RDONLY | os.O_CLOEXEC)

    def read_bytes(self, digest: str) -> bytes:
        """The object's content (for small objects: diffs, .gitignore files)."""
        return self.path(digest).read_bytes()

    def rehash(self, digest: str) -> tuple[str, int]:
        """Recompute the SHA-256 of the stored object; return (actual digest, size)."""
        hasher = hashlib.sha256()
        size = 0
        fd = self.open(digest)
        try:
            while chunk := os.read(fd, CHUNK):
                hasher.update(chunk)
                size += len(chunk)
        finally:
            os.close(fd)
        return hasher.hexdigest(), size

    def delete(self, digest: str) -> None:
        """Remove an object (cleanup only: the caller knows nothing references it)."""
        try:
            os.unlink(self.path(digest))
        except FileNotFoundError:
            pass

    def digests(self) -> Iterator[str]:
        """Every stored object's digest."""
        if not self.root.is_dir():
            return
        for shard in os.scandir(self.root):
            if len(shard.name) != 2 or not shard.is_dir(follow_symlinks=False):
                continue
            for item in os.scandir(shard.path):
                if len(item.name) == 62:
                    yield shard.name + item.name

    def clear_temporaries(self) -> int:
        """Remove half-written objects left by an interrupted snapshot; return how many.

        Only safe while no snapshot is being taken (cleanup holds the store's lock).
        """
        removed = 0
        if not self.root.is_dir():
            return 0
        for directory in os.scandir(self.root):
            if not directory.is_dir(follow_symlinks=False):
                continue
            for item in os.scandir(directory.path):
                if directory.name == "tmp" or item.name.endswith(".tmp"):
                    os.unlink(item.path)
                    removed += 1
        return removed

    def _open_source(self, path: str) -> int:
        if self._noatime:
            try:
                return os.open(path, _READ_FLAGS)
            except PermissionError:
                # O_NOATIME needs ownership of the file; fall back without it.
                self._noatime = False
        return os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)

    def _stream(self, fd: int, head: list[bytes]) -> tuple[str, int]:
        """Copy a large file into a temporary object while hashing, then name it."""
        self._tmp.mkdir(parents=True, exist_ok=True)
        tmp = self._tmp / secrets.token_hex(8)
        hasher = hashlib.sha256()
        size = 0
        out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o400)
        try:
            for chunk in head:
                hasher.update(chunk)
                _write_all(out, chunk)
                size += len(chunk)
            while chunk := os.read(fd, CHUNK):
                hasher.update(chunk)
                _write_all(out, chunk)
                size += len(chunk)
        except BaseException:
            os.close(out)
            os.unlink(tmp)
            raise
        os.close(out)
        digest = hasher.hexdigest()
        if self.has(digest):
            os.unlink(tmp)
        else:
            self._ensure_shard(digest)
            os.replace(tmp, self._file(digest))
        return digest, size

    def _file(self, digest: str) -> str:
        return f"{self._base}/{digest[:2]}/{digest[2:]}"

    def _write_new(self, digest: str, data: bytes) -> None:
        self._ensure_shard(digest)
        final = self._file(digest)
        tmp = f"{final}.{secrets.token_hex(4)}.tmp"
        out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o400)
        try:
            _write_all(out, data)
        except BaseException:
            os.close(out)
            os.unlink(tmp)
            raise
        os.close(out)
        os.replace(tmp, final)

    def _ensure_shard(self, digest: str) -> None:
        shard = digest[:2]
        if shard not in self._shards:
            os.makedirs(f"{self._base}/{shard}", exist_ok=True)
            self._shards.add(shard)


def hash_file(path: str) -> tuple[str, int]:
    """SHA-256 and size of a regular file, not following a symlink; nothing is stored."""
    hasher = hashlib.sha256()
    size = 0
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        while chunk := os.read(fd, CHUNK):
            hasher.update(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    return hasher.hexdigest(), size


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
