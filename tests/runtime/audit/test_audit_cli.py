"""``nono audit``: list, show, verify."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from nonoc.cli.nono import main
from nonoc.runtime.audit import AuditSession, AuditTrail
from nonoc.runtime.audit.chain import canonical


def test_list_and_show(
    make_session: Callable[..., AuditSession], capsys: pytest.CaptureFixture[str]
) -> None:
    session = make_session()
    assert main(["audit", "list"]) == 0
    out = capsys.readouterr().out
    assert session.id in out and "closed" in out and "claude --api-key <redacted>" in out
    assert main(["audit", "show", session.id[:12]]) == 0
    out = capsys.readouterr().out
    for kind in (
        "session_start",
        "policy",
        "network_decision",
        "supervisor_decision",
        "snapshot",
        "command",
        "session_end",
    ):
        assert kind in out
    assert "sk-live-123" not in out
    assert main(["audit", "show", "latest", "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [r["seq"] for r in records] == list(range(9))


def test_verify_ok_and_tampered(
    make_session: Callable[..., AuditSession], audit_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    session = make_session()
    assert main(["audit", "verify"]) == 0
    assert "OK (1 sessions, 9 records" in capsys.readouterr().out
    path = AuditTrail(audit_root).session_path(session.id)
    lines = path.read_bytes().splitlines()
    record = json.loads(lines[3])
    record["decision"] = "deny"  # it was "allow"
    lines[3] = canonical(record)
    path.write_bytes(b"\n".join(lines) + b"\n")
    assert main(["audit", "verify", session.id]) == 1
    err = capsys.readouterr().err
    assert f"session {session.id}: record seq 3 (line 4, network_decision) was changed" in err
    assert "FAILED verification (1 problems)" in err


def test_verify_with_a_trusted_key(
    audit_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = Ed25519PrivateKey.generate()
    AuditSession.open(command=["x"], root=audit_root, signing_key=key).close(0)
    pub = tmp_path / "audit.pub"
    pub.write_bytes(key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    assert main(["audit", "verify", "--key", str(pub), "--require-signature"]) == 0
    other = tmp_path / "other.pub"
    other.write_bytes(
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    )
    assert main(["audit", "verify", "--key", str(other)]) == 1
    assert "not trusted" in capsys.readouterr().err


def test_errors_are_clean(audit_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "show", "nope"]) == 1
    assert "error: no audit session 'nope'" in capsys.readouterr().err
    assert main(["audit"]) == 2
    assert main(["audit", "list"]) == 0
    assert "no audited sessions" in capsys.readouterr().out
