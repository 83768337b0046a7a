"""Tampering with the trail is detected, and the tampered record is named."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from nonoc.runtime.audit import AuditSession, AuditTrail, verify_trail
from nonoc.runtime.audit.chain import canonical, seal, session_genesis

RECORDS = 9  # what conftest.full_session writes


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines()


def write_lines(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(line + b"\n" for line in lines))


@pytest.fixture
def sessions(
    make_session: Callable[..., AuditSession], audit_root: Path
) -> tuple[AuditTrail, str, Path]:
    """Three sessions; the middle one is the victim."""
    make_session()
    victim = make_session()
    make_session()
    trail = AuditTrail(audit_root)
    assert verify_trail(trail).ok
    return trail, victim.id, trail.session_path(victim.id)


@pytest.mark.parametrize("seq", range(RECORDS))
def test_a_changed_record_is_named(sessions: tuple[AuditTrail, str, Path], seq: int) -> None:
    trail, sid, path = sessions
    lines = lines_of(path)
    record = json.loads(lines[seq])
    record["time"] = "2000-01-01T00:00:00.000000+00:00"
    lines[seq] = canonical(record)
    write_lines(path, lines)
    findings = verify_trail(trail).findings
    assert [(f.where, f.problem, f.seq, f.line) for f in findings] == [
        (f"session {sid}", "changed", seq, seq + 1)
    ]
    assert f"record seq {seq} (line {seq + 1}" in findings[0].message


@pytest.mark.parametrize("seq", range(RECORDS))
def test_a_changed_and_rehashed_record_is_named(
    sessions: tuple[AuditTrail, str, Path], seq: int
) -> None:
    trail, _sid, path = sessions
    lines = lines_of(path)
    record = json.loads(lines[seq])
    record["forged"] = True
    lines[seq] = canonical(seal(record))
    write_lines(path, lines)
    findings = verify_trail(trail).findings
    assert findings
    assert {(f.problem, f.seq) for f in findings} == {("changed", seq)}


@pytest.mark.parametrize("seq", range(RECORDS))
def test_a_removed_record_is_named(sessions: tuple[AuditTrail, str, Path], seq: int) -> None:
    trail, _sid, path = sessions
    lines = lines_of(path)
    del lines[seq]
    write_lines(path, lines)
    findings = verify_trail(trail).findings
    assert [(f.problem, f.seq) for f in findings] == [("removed", seq)]
    assert f"seq {seq} was removed" in findings[0].message


@pytest.mark.parametrize("seq", range(RECORDS - 1))
def test_two_reordered_records_are_named(sessions: tuple[AuditTrail, str, Path], seq: int) -> None:
    trail, _sid, path = sessions
    lines = lines_of(path)
    lines[seq], lines[seq + 1] = lines[seq + 1], lines[seq]
    write_lines(path, lines)
    findings = verify_trail(trail).findings
    assert [f.problem for f in findings] == ["reordered"]
    assert (
        f"records seq {seq + 1} (line {seq + 1}) and seq {seq} (line {seq + 2}) are out of order"
        in findings[0].message
    )


def test_far_apart_records_swapped(sessions: tuple[AuditTrail, str, Path]) -> None:
    trail, _sid, path = sessions
    lines = lines_of(path)
    lines[1], lines[5] = lines[5], lines[1]
    write_lines(path, lines)
    findings = verify_trail(trail).findings
    assert {f.problem for f in findings} == {"reordered"}
    assert any("seq 5 (line 2)" in f.message for f in findings)
    assert any("seq 1 (line 6)" in f.message for f in findings)


def test_a_rewritten_tail_is_caught_by_the_ledger(sessions: tuple[AuditTrail, str, Path]) -> None:
    """Drop a record, renumber and re-seal everything after it: the chain is self-consistent,
    but the ledger sealed a different last record and count."""
    trail, sid, path = sessions
    records = [json.loads(line) for line in lines_of(path)]
    del records[3]
    prev = session_genesis(sid)
    rebuilt = []
    for seq, record in enumerate(records):
        record.update(seq=seq, prev=prev)
        rebuilt.append(canonical(seal(record)))
        prev = record["hash"]
    write_lines(path, rebuilt)
    findings = verify_trail(trail).findings
    assert [(f.problem, f.seq) for f in findings] == [("removed", RECORDS - 1)]
    assert "the ledger sealed 9 records" in findings[0].message


def test_a_record_appended_after_close(sessions: tuple[AuditTrail, str, Path]) -> None:
    trail, sid, path = sessions
    lines = lines_of(path)
    last = json.loads(lines[-1])
    extra = seal(
        {
            "seq": RECORDS,
            "time": last["time"],
            "kind": "command",
            "session": sid,
            "prev": last["hash"],
            "argv": ["rm", "-rf", "evidence"],
        }
    )
    write_lines(path, [*lines, canonical(extra)])
    findings = verify_trail(trail).findings
    assert [(f.problem, f.seq) for f in findings] == [("appended", RECORDS)]


def test_a_malformed_line(sessions: tuple[AuditTrail, str, Path]) -> None:
    trail, _sid, path = sessions
    lines = lines_of(path)
    lines[2] = b"{not json"
    write_lines(path, lines)
    problems = [(f.problem, f.line, f.seq) for f in verify_trail(trail).findings]
    assert problems == [("malformed", 3, None), ("removed", None, 2)]


def test_a_deleted_session_file(sessions: tuple[AuditTrail, str, Path]) -> None:
    trail, sid, path = sessions
    path.unlink()
    findings = verify_trail(trail).findings
    assert [(f.where, f.message) for f in findings] == [
        (f"session {sid}", "the session's record file was removed")
    ]


def test_a_session_dropped_from_the_ledger(sessions: tuple[AuditTrail, str, Path]) -> None:
    trail, sid, _ = sessions
    ledger = trail.root / "ledger.jsonl"
    lines = lines_of(ledger)
    kept = [line for line in lines if json.loads(line)["session"] != sid]
    write_lines(ledger, kept)
    findings = verify_trail(trail).findings
    rendered = [f.render() for f in findings]
    assert "ledger: records seq 2-3 were removed" in rendered
    assert f"session {sid}: the session is not in the ledger" in rendered


def test_a_changed_ledger_entry(sessions: tuple[AuditTrail, str, Path]) -> None:
    trail, _sid, _ = sessions
    ledger = trail.root / "ledger.jsonl"
    lines = lines_of(ledger)
    entry = json.loads(lines[3])
    entry["exit_code"] = 0 if entry["exit_code"] else 1
    lines[3] = canonical(entry)
    write_lines(ledger, lines)
    findings = verify_trail(trail).findings
    assert [(f.where, f.problem, f.seq) for f in findings] == [("ledger", "changed", 3)]


def test_a_record_copied_from_another_session(
    make_session: Callable[..., AuditSession], audit_root: Path
) -> None:
    a, b = make_session(), make_session()
    trail = AuditTrail(audit_root)
    path_a, path_b = trail.session_path(a.id), trail.session_path(b.id)
    lines_a, lines_b = lines_of(path_a), lines_of(path_b)
    lines_b[4] = lines_a[4]
    write_lines(path_b, lines_b)
    findings = verify_trail(trail, b.id).findings
    assert findings and all(f.where == f"session {b.id}" for f in findings)


def test_verify_one_session(sessions: tuple[AuditTrail, str, Path]) -> None:
    trail, sid, _path = sessions
    report = verify_trail(trail, sid)
    assert report.ok and report.sessions == 1 and report.records == RECORDS
