"""Reading the audit trail: the sessions, their records, the ledger."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nonoc.errors import NonoError
from nonoc.runtime.audit.ledger import Ledger
from nonoc.runtime.audit.session import default_root

#: A parsed line: its 1-based number and the record (None when it is not a JSON object).
Line = tuple[int, dict[str, Any] | None]


class AuditError(NonoError):
    """An audit request that cannot be carried out (unknown session…)."""


@dataclass
class SessionInfo:
    """What ``nono audit list`` shows about one session."""

    id: str
    started: str | None = None
    ended: str | None = None
    exit_code: int | None = None
    command: list[str] = field(default_factory=list)
    records: int = 0
    status: str = "open"  # closed, open (running or cut short), unlisted (not in the ledger)
    signed: bool = False


def parse_lines(data: bytes) -> list[Line]:
    """Split a JSON-lines file into numbered records."""
    out: list[Line] = []
    for number, raw in enumerate(data.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            value = json.loads(raw)
        except ValueError:
            out.append((number, None))
            continue
        out.append((number, value if isinstance(value, dict) else None))
    return out


class AuditTrail:
    """The audit directory (``$XDG_STATE_HOME/nono/audit`` by default)."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root) if root is not None else default_root()
        self.ledger = Ledger(self.root)

    def session_path(self, session_id: str) -> Path:
        """Where a session's records live."""
        return self.root / "sessions" / f"{session_id}.jsonl"

    def read_session(self, session_id: str) -> list[Line]:
        """A session's records, numbered by line."""
        return parse_lines(self.session_path(session_id).read_bytes())

    def ledger_lines(self) -> list[Line]:
        """The ledger's entries, numbered by line."""
        return parse_lines(b"\n".join(self.ledger.lines()))

    def session_ids(self) -> list[str]:
        """Every session named by a file or by the ledger, oldest first."""
        ids: set[str] = set()
        directory = self.root / "sessions"
        if directory.is_dir():
            ids.update(
                p.name[: -len(".jsonl")] for p in directory.iterdir() if p.name.endswith(".jsonl")
            )
        ids.update(str(e["session"]) for _, e in self.ledger_lines() if e and "session" in e)
        return sorted(ids)

    def sessions(self) -> list[SessionInfo]:
        """A summary of every session, oldest first."""
        ledger: dict[str, dict[str, dict[str, Any]]] = {}
        for _, entry in self.ledger_lines():
            if entry and "session" in entry:
                ledger.setdefault(str(entry["session"]), {})[str(entry.get("event"))] = entry
        out = []
        for sid in self.session_ids():
            info = SessionInfo(sid)
            try:
                records = [r for _, r in self.read_session(sid) if r]
            except FileNotFoundError:
                records = []
            info.records = len(records)
            for record in records:
                if record.get("kind") == "session_start":
                    info.started = record.get("time")
                    info.command = list(record.get("command") or [])
                elif record.get("kind") == "session_end":
                    info.ended = record.get("time")
                    info.exit_code = record.get("exit_code")
            entries = ledger.get(sid, {})
            if "close" in entries:
                info.status = "closed"
                info.signed = "signature" in entries["close"]
            elif "open" not in entries:
                info.status = "unlisted"
            out.append(info)
        out.sort(key=lambda s: (s.started or "", s.id))
        return out

    def resolve(self, ref: str) -> str:
        """A session id from an id, a unique prefix, or ``latest``."""
        ids = self.session_ids()
        if ref == "latest":
            sessions = self.sessions()
            if not sessions:
                raise AuditError("there are no audit sessions")
            return sessions[-1].id
        if ref in ids:
            return ref
        matches = [i for i in ids if i.startswith(ref)]
        if not matches:
            raise AuditError(f"no audit session '{ref}'", notes=("`nono audit list` shows them",))
        if len(matches) > 1:
            raise AuditError(f"'{ref}' names several sessions: {', '.join(matches[:5])}")
        return matches[0]
