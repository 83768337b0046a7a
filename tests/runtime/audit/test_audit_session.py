"""Writing sessions: every event kind, the chain, the ledger, signatures."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from nonoc.runtime.audit import EVENT_KINDS, AuditSession, AuditTrail, verify_trail
from nonoc.runtime.audit.chain import canonical, record_hash, session_genesis


def test_every_event_kind_is_recorded(
    make_session: Callable[..., AuditSession], audit_root: Path
) -> None:
    session = make_session()
    records = [r for _, r in AuditTrail(audit_root).read_session(session.id)]
    assert {r["kind"] for r in records} == set(EVENT_KINDS)
    start, end = records[0], records[-1]
    assert start["kind"] == "session_start" and end["kind"] == "session_end"
    assert start["command"] == ["claude", "--api-key", "<redacted>", "-p", "fix the tests"]
    assert start["landlock_abi"] == 7 and start["policy_digest"].startswith("sha256:")
    assert start["platform"]["system"] and start["pid"] > 0
    assert end["exit_code"] == 0 and end["duration_ms"] >= 0
    command = next(r for r in records if r["kind"] == "command")
    assert command["argv"] == ["git", "push", "--token", "<redacted>"]
    snapshots = [r for r in records if r["kind"] == "snapshot"]
    assert [s["merkle_root"] for s in snapshots] == ["cd" * 32, "ef" * 32]


def test_records_are_chained_canonical_lines(
    make_session: Callable[..., AuditSession], audit_root: Path
) -> None:
    session = make_session()
    raw = (audit_root / "sessions" / f"{session.id}.jsonl").read_bytes().splitlines()
    prev = session_genesis(session.id)
    for seq, line in enumerate(raw):
        record = json.loads(line)
        assert line == canonical(record)
        assert record["seq"] == seq and record["prev"] == prev and record["session"] == session.id
        assert record["hash"] == record_hash(record)
        prev = record["hash"]
    assert prev == session.last_hash


def test_ledger_chains_sessions(
    make_session: Callable[..., AuditSession], audit_root: Path
) -> None:
    first, second = make_session(), make_session()
    trail = AuditTrail(audit_root)
    ledger = [e for _, e in trail.ledger_lines()]
    assert [(e["event"], e["session"]) for e in ledger] == [
        ("open", first.id),
        ("close", first.id),
        ("open", second.id),
        ("close", second.id),
    ]
    second_start = trail.read_session(second.id)[0][1]
    assert second_start is not None and second_start["ledger_head"] == ledger[1]["hash"]
    assert ledger[3]["final_hash"] == second.last_hash and ledger[3]["records"] == 9
    report = verify_trail(trail)
    assert report.ok, report.findings
    assert (report.sessions, report.records) == (2, 18)


def test_concurrent_sessions_interleave_safely(audit_root: Path) -> None:
    a = AuditSession.open(command=["a"], root=audit_root)
    b = AuditSession.open(command=["b"], root=audit_root)
    a.record("command", argv=["x"])
    b.record("command", argv=["y"])
    b.close(1)
    a.close(0)
    assert verify_trail(AuditTrail(audit_root)).ok


def test_open_session_is_noted_not_failed(audit_root: Path) -> None:
    session = AuditSession.open(command=["long-running"], root=audit_root)
    session.record("policy", digest="x")
    report = verify_trail(AuditTrail(audit_root))
    assert report.ok and report.notes == [
        f"session {session.id}: still open, or ended without closing (no session_end)"
    ]
    assert AuditTrail(audit_root).sessions()[0].status == "open"


def test_bad_kinds_and_reserved_fields_are_refused(audit_root: Path) -> None:
    with AuditSession.open(root=audit_root) as session:
        with pytest.raises(ValueError, match="unknown audit event kind 'netwrk'"):
            session.record("netwrk")
        with pytest.raises(ValueError, match="unknown audit event kind 'session_end'"):
            session.record("session_end")
        with pytest.raises(ValueError, match="may not be named hash, seq"):
            session.record("policy", seq=3, hash="x")
    with pytest.raises(ValueError, match="is closed"):
        session.record("policy")


def test_context_manager_closes_with_an_error(audit_root: Path) -> None:
    with pytest.raises(RuntimeError), AuditSession.open(root=audit_root) as session:
        raise RuntimeError("boom")
    last = AuditTrail(audit_root).read_session(session.id)[-1][1]
    assert last is not None and last["exit_code"] == 1 and last["error"] == "RuntimeError"


def test_signed_session_verifies_and_names_bad_signatures(audit_root: Path) -> None:
    key, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    session = AuditSession.open(command=["claude"], root=audit_root, signing_key=key)
    session.close(0)
    trail = AuditTrail(audit_root)
    assert trail.sessions()[0].signed
    import hashlib

    from nonoc.runtime.audit.session import public_raw

    raw = public_raw(key)
    assert verify_trail(trail, trusted_keys={hashlib.sha256(raw).hexdigest(): raw}).ok
    other_raw = public_raw(other)
    untrusted = verify_trail(trail, trusted_keys={hashlib.sha256(other_raw).hexdigest(): other_raw})
    assert [f.problem for f in untrusted.findings] == ["signature"]
    assert "not trusted" in untrusted.findings[0].message
    # Swap in a signature over something else: it no longer verifies.
    ledger = audit_root / "ledger.jsonl"
    lines = ledger.read_bytes().splitlines()
    close = json.loads(lines[-1])
    close["signature"]["sig"] = close["signature"]["sig"][:-4] + "AAA="
    lines[-1] = canonical(close)
    ledger.write_bytes(b"\n".join(lines) + b"\n")
    findings = verify_trail(trail).findings
    assert any(f.problem == "signature" and "does not verify" in f.message for f in findings)


def test_bundle_signing_key_is_accepted(audit_root: Path) -> None:
    """nono's own SigningKey (the bundle key) signs as well as a cryptography key."""
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
        PublicFormat,
    )

    from nonoc.bundle.keys import SigningKey

    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    bundle_key = SigningKey("test", pem, raw, "memory")
    AuditSession.open(root=audit_root, signing_key=bundle_key).close(0)
    assert verify_trail(AuditTrail(audit_root), require_signature=True).ok


def test_unsigned_session_fails_when_signatures_are_required(
    make_session: Callable[..., AuditSession], audit_root: Path
) -> None:
    make_session()
    report = verify_trail(AuditTrail(audit_root), require_signature=True)
    assert [f.message for f in report.findings] == ["the session is not signed"]
