"""The global ledger: one hash chain across every session.

``ledger.jsonl`` gets an ``open`` entry when a session starts (committing to the session's
first record) and a ``close`` entry when it ends (committing to its last record, its
record count and, when a key was given, a signature of that last hash). The session's
own first record commits back to the ledger head it saw, so sessions are chained to each
other in the order they started: deleting a whole session, or the tail of one, breaks
the ledger.

Appends from concurrent sessions are serialised with ``flock`` on ``ledger.lock``.
"""

from __future__ import annotations

import fcntl
import os
import time

from nonoc.runtime.audit.chain import ledger_genesis, line_of, seal

# Written on every ``nono run``: standard-library modules that cost nothing to import only
# (no json, datetime, pathlib, contextlib; see nonoc.runtime.audit.session).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def utc_now() -> str:
    """The current time, ISO 8601 UTC with microseconds (``…T12:07:45.897123+00:00``)."""
    seconds, nanoseconds = divmod(time.time_ns(), 1_000_000_000)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{stamp}.{nanoseconds // 1000:06d}+00:00"


class _Lock:
    """``flock`` on ``ledger.lock`` for the duration of a ``with`` block."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.fd = -1

    def __enter__(self) -> None:
        os.makedirs(self.root, mode=0o700, exist_ok=True)
        self.fd = os.open(
            os.path.join(self.root, "ledger.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600
        )
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(self.fd)
            raise

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)


class Ledger:
    """Appends to and reads ``root/ledger.jsonl``."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = os.fspath(root)
        self.path = os.path.join(self.root, "ledger.jsonl")

    def locked(self) -> _Lock:
        """Hold the ledger's lock (appends must read the head and write atomically)."""
        return _Lock(self.root)

    def head(self) -> tuple[int, str]:
        """(next seq, hash of the last entry); the genesis when the ledger is empty."""
        from nonoc.launch.jsondata import loads

        last = self._last_line()
        if last is None:
            return 0, ledger_genesis()
        try:
            entry: Any = loads(last)
            return int(entry["seq"]) + 1, str(entry["hash"])
        except (ValueError, KeyError, TypeError):
            # A damaged last line: keep appending (verify reports the damage) but chain
            # to the damaged text itself so nothing after it can be spliced in unnoticed.
            import hashlib

            return self._count_lines(), hashlib.sha256(last).hexdigest()

    def append(self, event: str, session: str, **fields: Any) -> dict[str, Any]:
        """Append one entry; the caller holds :meth:`locked`."""
        seq, prev = self.head()
        entry = seal(
            {
                "seq": seq,
                "time": utc_now(),
                "event": event,
                "session": session,
                "prev": prev,
                **fields,
            }
        )
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, line_of(entry))
            os.fsync(fd)
        finally:
            os.close(fd)
        return entry

    def lines(self) -> list[bytes]:
        """The raw lines (without newlines)."""
        try:
            with open(self.path, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            return []
        return data.splitlines()

    def _last_line(self) -> bytes | None:
        try:
            with open(self.path, "rb") as f:
                f.seek(0, os.SEEK_END)
                size = f.tell()
                block = min(size, 1 << 16)
                while True:
                    f.seek(size - block)
                    data = f.read(block).rstrip(b"\n")
                    if b"\n" in data or block == size:
                        return data.rpartition(b"\n")[2] or None
                    block = min(size, block * 4)
        except FileNotFoundError:
            return None

    def _count_lines(self) -> int:
        return len(self.lines())
