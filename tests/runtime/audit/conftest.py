"""Fixtures for the audit tests: an audit directory and a session with every kind of event."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from nonoc.runtime.audit import AuditSession


def full_session(root: Path, session_id: str | None = None, **open_fields: object) -> AuditSession:
    """A closed session holding one record of every kind."""
    session = AuditSession.open(
        command=["claude", "--api-key", "sk-live-123", "-p", "fix the tests"],
        root=root,
        session_id=session_id,
        policy_digest="sha256:" + "ab" * 32,
        profile="claude-code",
        landlock_abi=7,
        **open_fields,  # type: ignore[arg-type]
    )
    session.record("policy", digest="sha256:" + "ab" * 32, profile="claude-code", grants=3)
    session.record(
        "snapshot", snapshot_id="20250101-000000-aaaaaa", label="before", merkle_root="cd" * 32
    )
    session.record("network_decision", host="pypi.org", port=443, decision="allow", rule="p0")
    session.record("supervisor_decision", syscall="openat", path="/etc/shadow", decision="deny")
    session.record("command", argv=["git", "push", "--token", "ghp_secret"], decision="blocked")
    session.record(
        "snapshot", snapshot_id="20250101-000100-bbbbbb", label="after", merkle_root="ef" * 32
    )
    session.record(
        "trust", on_failure="deny", verified=[{"file": "CLAUDE.md", "ok": True}], failures=[]
    )
    session.close(0)
    return session


@pytest.fixture
def audit_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``$XDG_STATE_HOME/nono/audit`` inside the test's directory."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path / "state" / "nono" / "audit"


@pytest.fixture
def make_session(audit_root: Path) -> Callable[..., AuditSession]:
    """Build a full session in ``audit_root``."""
    return lambda session_id=None, **fields: full_session(audit_root, session_id, **fields)
