"""One session's audit records, written as they happen.

``sessions/<id>.jsonl`` is opened append-only; each record is one canonical JSON line
written with a single ``write`` (so concurrent writers never interleave inside a line)
and chained to the one before. The file is fsynced after ``session_start`` and at
``close``; records in between reach the disk with the kernel's normal writeback, which
is a deliberate trade: a network decision per connection should not cost an fsync.
"""

from __future__ import annotations

import _thread
import os
import time

from nonoc.runtime.audit.chain import (
    EVENT_KINDS,
    RESERVED_KEYS,
    line_of,
    seal,
    session_genesis,
    signed_message,
)
from nonoc.runtime.audit.ledger import Ledger, utc_now

# ``nono run`` opens a session on every start, so this module imports no more than it
# writes with: no typing, pathlib, platform, secrets, threading, json nor hashlib (each
# costs a cached run milliseconds; docs/performance.md). Redaction's regular expressions
# are loaded only for a command line that could hold a secret (``redacted``).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path
    from typing import Any, Protocol

    class Signer(Protocol):
        """An Ed25519 private key: ``cryptography``'s, or nono's ``SigningKey`` (bundle key)."""

        def sign(self, data: bytes) -> bytes:
            """Sign ``data``."""
            ...


def default_root() -> Path:
    """``$XDG_STATE_HOME/nono/audit`` (``~/.local/state/nono/audit`` when unset)."""
    from pathlib import Path

    return Path(_default_root())


def _default_root() -> str:
    from nonoc.runtime.config import state_dir

    return os.path.join(state_dir(), "audit")


def new_session_id() -> str:
    """``YYYYMMDDTHHMMSSZ-xxxxxxxx``: sorts by start time, unique by its random tail."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + os.urandom(4).hex()


def redacted(argv: Sequence[str]) -> list[str]:
    """``redact.redact_argv(argv)``, without loading its rules when no word can match one.

    Every rule needs a word that starts with ``-``, holds ``=`` or ``:``, or is at least 20
    characters long (the shortest secret the rules recognise is a 20-character AWS key id);
    a command line of plain short words (``claude``, ``/bin/true``) is returned as is.
    """
    if all(len(w) < 20 and not w.startswith("-") and "=" not in w and ":" not in w for w in argv):
        return list(argv)
    from nonoc.runtime.audit.redact import redact_argv

    return redact_argv(argv)


def public_raw(key: Signer) -> bytes:
    """The raw 32-byte public key of ``key``."""
    raw = getattr(key, "public_raw", None)
    if isinstance(raw, bytes):
        return raw
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)  # type: ignore[attr-defined, no-any-return]


class AuditSession:
    """An open session: :meth:`open`, then :meth:`record` events, then :meth:`close`."""

    def __init__(
        self, root: str | os.PathLike[str], session_id: str, signing_key: Signer | None
    ) -> None:
        self.root = os.fspath(root)
        self.id = session_id
        self.path = os.path.join(self.root, "sessions", f"{session_id}.jsonl")
        self.ledger = Ledger(root)
        self.signing_key = signing_key
        self.seq = 0
        self.last_hash = session_genesis(session_id)
        self.closed = False
        self._started = time.monotonic()
        self._lock = _thread.allocate_lock()
        self._fd = -1

    @classmethod
    def open(
        cls,
        *,
        command: Sequence[str] = (),
        root: str | os.PathLike[str] | None = None,
        session_id: str | None = None,
        signing_key: Signer | None = None,
        **fields: Any,
    ) -> AuditSession:
        """Start a session: write ``session_start`` and the ledger's ``open`` entry.

        ``command`` is redacted by rule (see :mod:`redact`). Pass what ``nono run`` knows as
        ``fields``: ``policy_digest``, ``profile``, ``landlock_abi``, ``bundle``… The
        ``signing_key``, if any, signs the final hash at :meth:`close`.
        """
        session = cls(
            root if root is not None else _default_root(),
            session_id or new_session_id(),
            signing_key,
        )
        os.makedirs(os.path.join(session.root, "sessions"), mode=0o700, exist_ok=True)
        session._fd = os.open(
            session.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600
        )
        uname = os.uname()
        start = {
            "command": redacted(list(command)),
            "cwd": os.getcwd(),
            "pid": os.getpid(),
            "uid": os.getuid(),
            "platform": {
                "system": uname.sysname,
                "release": uname.release,
                "machine": uname.machine,
            },
            "nono_version": _version(),
        }
        start.update(_clean(fields))
        with session.ledger.locked():
            _, head = session.ledger.head()
            first = session._append("session_start", {**start, "ledger_head": head})
            os.fsync(session._fd)
            session.ledger.append("open", session.id, first_hash=first["hash"])
        return session

    def record(self, kind: str, **fields: Any) -> dict[str, Any]:
        """Append one event (``policy``, ``network_decision``, ``supervisor_decision``,
        ``snapshot`` or ``command``); return the sealed record.

        A field named ``argv`` or ``command`` holding a list of strings is redacted.
        """
        if kind not in EVENT_KINDS or kind in ("session_start", "session_end"):
            allowed = ", ".join(k for k in EVENT_KINDS if not k.startswith("session_"))
            raise ValueError(f"unknown audit event kind {kind!r} (one of: {allowed})")
        if self.closed:
            raise ValueError(f"audit session {self.id} is closed")
        return self._append(kind, _clean(fields))

    def network_event(self, event: Any) -> None:
        """Record a proxy decision (``ProxyEvent``): pass as the proxy's ``on_event``.

        Runs on the proxy's thread; one ``write``, no fsync, so it does not hold the proxy up.
        """
        self.record("network_decision", **_renamed(event.to_dict()))

    def supervisor_event(self, event: Any) -> None:
        """Record a supervisor decision (``supervisor.verdict.Event``): its ``on_event``."""
        self.record("supervisor_decision", **_renamed(event.fields()))

    def close(self, exit_code: int, **fields: Any) -> str:
        """Write ``session_end`` and the ledger's ``close`` entry (signed if a key was given).

        Returns the session's final hash. Closing twice does nothing more.
        """
        if self.closed:
            return self.last_hash
        end = {
            "exit_code": exit_code,
            "duration_ms": int((time.monotonic() - self._started) * 1000),
        }
        end.update(_clean(fields))
        last = self._append("session_end", end)
        os.fsync(self._fd)
        os.close(self._fd)
        self.closed = True
        extra: dict[str, Any] = {}
        if self.signing_key is not None:
            import base64
            import hashlib

            raw = public_raw(self.signing_key)
            signature = self.signing_key.sign(signed_message(self.id, last["hash"]))
            extra["signature"] = {
                "keyid": hashlib.sha256(raw).hexdigest(),
                "public_key": base64.b64encode(raw).decode(),
                "sig": base64.b64encode(signature).decode(),
            }
        with self.ledger.locked():
            self.ledger.append(
                "close",
                self.id,
                final_hash=last["hash"],
                records=self.seq,
                exit_code=exit_code,
                **extra,
            )
        return self.last_hash

    def __enter__(self) -> AuditSession:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> None:
        if not self.closed:
            if exc_type is None:
                self.close(0)
            else:
                self.close(1, error=exc_type.__name__)

    def _append(self, kind: str, fields: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            record = seal(
                {
                    **fields,
                    "seq": self.seq,
                    "time": utc_now(),
                    "kind": kind,
                    "session": self.id,
                    "prev": self.last_hash,
                }
            )
            os.write(self._fd, line_of(record))
            self.seq += 1
            self.last_hash = record["hash"]
            return record


def _renamed(fields: dict[str, Any]) -> dict[str, Any]:
    """An event's fields with the record's own names (``kind``, ``time``…) prefixed ``event_``."""
    return {f"event_{k}" if k in RESERVED_KEYS else k: v for k, v in fields.items()}


def _clean(fields: dict[str, Any]) -> dict[str, Any]:
    reserved = RESERVED_KEYS & fields.keys()
    if reserved:
        raise ValueError(f"audit fields may not be named {', '.join(sorted(reserved))}")
    out = dict(fields)
    for key in ("argv", "command"):
        value = out.get(key)
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            out[key] = redacted(value)
    return out


def _version() -> str:
    from nonoc import __version__

    return __version__
