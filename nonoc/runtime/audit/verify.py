"""Verify the audit trail and name what was tampered with.

Each chain (a session file, the ledger) is checked four ways, and every problem names the
record by its ``seq`` and line:

- **changed**: a record whose content no longer matches its ``hash``; or one whose
  ``hash`` was recomputed after the change, caught because the next record committed to
  the old hash (or, for the last record, because the ledger did);
- **removed**: a gap in the ``seq`` numbers, or fewer records than the ledger sealed;
- **reordered**: a record whose ``seq`` is lower than the line before it;
- **malformed**: a line that is not a JSON object with a ``seq``.

The ledger ties sessions together: every session file must have an ``open`` entry whose
``first_hash`` is the session's first record, and a ``close`` entry whose ``final_hash``
and record count match its last record; a signature, when present, must verify.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from nonoc.runtime.audit.chain import ledger_genesis, record_hash, session_genesis, signed_message
from nonoc.runtime.audit.trail import AuditTrail, Line


@dataclass(frozen=True)
class Finding:
    """One problem, located as precisely as the evidence allows."""

    where: str
    problem: str
    message: str
    seq: int | None = None
    line: int | None = None

    def render(self) -> str:
        """``where: message`` for the terminal."""
        return f"{self.where}: {self.message}"


@dataclass
class AuditReport:
    """The outcome of :func:`verify_trail`."""

    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sessions: int = 0
    records: int = 0

    @property
    def ok(self) -> bool:
        """True when nothing was tampered with."""
        return not self.findings


def check_chain(
    lines: list[Line], genesis: str, where: str, kind_key: str = "kind"
) -> tuple[list[Finding], dict[int, tuple[int, dict[str, Any]]]]:
    """Check one hash chain; return the findings and the records by seq (first occurrence)."""
    findings: list[Finding] = []
    records: list[tuple[int, dict[str, Any]]] = []
    for number, record in lines:
        if record is None or not isinstance(record.get("seq"), int):
            findings.append(
                Finding(where, "malformed", f"line {number} is not a valid record", line=number)
            )
        else:
            records.append((number, record))

    def name(number: int, record: dict[str, Any]) -> str:
        return f"record seq {record['seq']} (line {number}, {record.get(kind_key, '?')})"

    intact: dict[int, bool] = {}
    for number, record in records:
        good = record.get("hash") == record_hash(record)
        intact[number] = good
        if not good:
            findings.append(
                Finding(
                    where,
                    "changed",
                    f"{name(number, record)} was changed: its content does not match its hash",
                    record["seq"],
                    number,
                )
            )
    for (n1, r1), (n2, r2) in pairwise(records):
        if r2["seq"] < r1["seq"]:
            findings.append(
                Finding(
                    where,
                    "reordered",
                    f"records seq {r1['seq']} (line {n1}) and seq {r2['seq']} (line {n2}) are out of order",
                    r2["seq"],
                    n2,
                )
            )
    by_seq: dict[int, tuple[int, dict[str, Any]]] = {}
    for number, record in records:
        if record["seq"] in by_seq:
            findings.append(
                Finding(
                    where,
                    "duplicated",
                    f"record seq {record['seq']} appears twice (lines {by_seq[record['seq']][0]} and {number})",
                    record["seq"],
                    number,
                )
            )
        else:
            by_seq[record["seq"]] = (number, record)
    if by_seq:
        missing = sorted(set(range(max(by_seq) + 1)) - by_seq.keys())
        for first, last in _runs(missing):
            what = (
                f"record seq {first} was" if first == last else f"records seq {first}-{last} were"
            )
            findings.append(Finding(where, "removed", f"{what} removed", first))
    if 0 in by_seq and by_seq[0][1].get("prev") != genesis and intact[by_seq[0][0]]:
        number, record = by_seq[0]
        findings.append(
            Finding(
                where,
                "changed",
                f"{name(number, record)} does not start this chain (moved or forged)",
                0,
                number,
            )
        )
    for seq in sorted(by_seq):
        if seq - 1 not in by_seq:
            continue
        (pn, prev), (cn, cur) = by_seq[seq - 1], by_seq[seq]
        if cur.get("prev") != prev.get("hash") and intact[pn] and intact[cn]:
            findings.append(
                Finding(
                    where,
                    "changed",
                    f"{name(pn, prev)} was changed and re-hashed: seq {seq} (line {cn}) committed to a different hash",
                    seq - 1,
                    pn,
                )
            )
    return findings, by_seq


def verify_trail(
    trail: AuditTrail,
    session_id: str | None = None,
    *,
    trusted_keys: dict[str, bytes] | None = None,
    require_signature: bool = False,
) -> AuditReport:
    """Verify the ledger and every session (or one); see the module doc.

    ``trusted_keys`` maps key ids (SHA-256 of the raw public key) to raw Ed25519 public
    keys; when given, a signature by any other key is a finding.
    """
    report = AuditReport()
    ledger_findings, ledger = check_chain(trail.ledger_lines(), ledger_genesis(), "ledger", "event")
    report.findings.extend(ledger_findings)
    entries: dict[str, dict[str, tuple[int, dict[str, Any]]]] = {}
    for number, entry in ledger.values():
        entries.setdefault(str(entry.get("session")), {})[str(entry.get("event"))] = (number, entry)
    ids = [session_id] if session_id else trail.session_ids()
    for sid in ids:
        report.sessions += 1
        where = f"session {sid}"
        try:
            lines = trail.read_session(sid)
        except FileNotFoundError:
            report.findings.append(
                Finding(where, "removed", "the session's record file was removed")
            )
            continue
        findings, by_seq = check_chain(lines, session_genesis(sid), where)
        report.findings.extend(findings)
        report.records += len(by_seq)
        mismatched = [n for n, r in by_seq.values() if r.get("session") != sid]
        if mismatched:
            report.findings.append(
                Finding(
                    where,
                    "changed",
                    f"line {mismatched[0]} belongs to another session",
                    line=mismatched[0],
                )
            )
        _cross_check(where, by_seq, entries.get(sid, {}), report, trusted_keys, require_signature)
    return report


def _cross_check(
    where: str,
    by_seq: dict[int, tuple[int, dict[str, Any]]],
    ledger: dict[str, tuple[int, dict[str, Any]]],
    report: AuditReport,
    trusted_keys: dict[str, bytes] | None,
    require_signature: bool,
) -> None:
    """Compare a session's records with what the ledger sealed for it."""
    opened, closed = ledger.get("open"), ledger.get("close")
    if opened is None:
        report.findings.append(Finding(where, "unlisted", "the session is not in the ledger"))
    elif 0 in by_seq:
        number, first = by_seq[0]
        if first.get("hash") != opened[1].get("first_hash"):
            report.findings.append(
                Finding(
                    where,
                    "changed",
                    f"record seq 0 (line {number}) is not the one the ledger's open entry sealed",
                    0,
                    number,
                )
            )
        elif first.get("ledger_head") != opened[1].get("prev"):
            report.findings.append(
                Finding(
                    where,
                    "changed",
                    "the session is not chained to the ledger where its open entry is",
                    0,
                    number,
                )
            )
    if closed is None:
        last = by_seq[max(by_seq)][1] if by_seq else None
        if last is not None and last.get("kind") == "session_end":
            report.findings.append(
                Finding(where, "removed", "the ledger's close entry for this session was removed")
            )
        elif opened is not None:
            report.notes.append(f"{where}: still open, or ended without closing (no session_end)")
        return
    entry = closed[1]
    count = int(entry.get("records", 0))
    top = max(by_seq) if by_seq else -1
    if top >= count:
        report.findings.append(
            Finding(
                where,
                "appended",
                f"records seq {count}-{top} were added after the session was closed",
                count,
            )
        )
    if top < count - 1:
        what = (
            f"record seq {count - 1} was"
            if top + 1 == count - 1
            else f"records seq {top + 1}-{count - 1} were"
        )
        report.findings.append(
            Finding(
                where,
                "removed",
                f"{what} removed from the end (the ledger sealed {count} records)",
                top + 1,
            )
        )
    elif count - 1 in by_seq and by_seq[count - 1][1].get("hash") != entry.get("final_hash"):
        number = by_seq[count - 1][0]
        report.findings.append(
            Finding(
                where,
                "changed",
                f"record seq {count - 1} (line {number}) is not the one the ledger sealed: "
                "records were changed and re-hashed",
                count - 1,
                number,
            )
        )
    signature = entry.get("signature")
    if signature is None:
        if require_signature:
            report.findings.append(Finding(where, "signature", "the session is not signed"))
        return
    problem = _check_signature(
        where.removeprefix("session "), str(entry.get("final_hash")), signature, trusted_keys
    )
    if problem:
        report.findings.append(Finding(where, "signature", problem))


def _check_signature(
    session_id: str,
    final_hash: str,
    signature: dict[str, Any],
    trusted_keys: dict[str, bytes] | None,
) -> str | None:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        raw = base64.b64decode(signature["public_key"], validate=True)
        sig = base64.b64decode(signature["sig"], validate=True)
        keyid = str(signature["keyid"])
        key = Ed25519PublicKey.from_public_bytes(raw)
    except (KeyError, ValueError, TypeError):
        return "the signature is malformed"
    if hashlib.sha256(raw).hexdigest() != keyid:
        return "the signature's key id does not match its public key"
    if trusted_keys is not None and keyid not in trusted_keys:
        return f"signed by key {keyid[:16]}…, which is not trusted"
    try:
        key.verify(sig, signed_message(session_id, final_hash))
    except InvalidSignature:
        return f"the signature by key {keyid[:16]}… does not verify"
    return None


def _runs(numbers: list[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for n in numbers:
        if runs and runs[-1][1] == n - 1:
            runs[-1] = (runs[-1][0], n)
        else:
            runs.append((n, n))
    return runs
