"""``nono audit``: list sessions, show one, verify the trail.

Argument parsing and printing only; the work is in :mod:`nonoc.runtime.audit`.
Session ids may be abbreviated to a unique prefix, or given as ``latest``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from nonoc.errors import UsageError

HELP = "List audited sessions, show their records, verify the hash-chained trail."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``audit`` subcommands."""
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    p = sub.add_parser("list", help="list sessions, oldest first")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p = sub.add_parser("show", help="a session's records")
    p.add_argument("id", help="session id, unique prefix, or 'latest'")
    p.add_argument("--json", action="store_true", help="the records as stored, as a JSON array")
    p = sub.add_parser("verify", help="check the hash chains (one session, or everything)")
    p.add_argument("id", nargs="?", help="session id, unique prefix, or 'latest' (default: all)")
    p.add_argument(
        "--key",
        action="append",
        default=[],
        metavar="PUB",
        help="trust only signatures by this Ed25519 public key (PEM); repeatable",
    )
    p.add_argument(
        "--require-signature", action="store_true", help="an unsigned closed session is a failure"
    )


def run(args: argparse.Namespace) -> int:
    """Run the chosen action; return the exit code."""
    from nonoc.runtime.audit import AuditTrail

    trail = AuditTrail()
    action = getattr(args, "action", None)
    if action is None:
        raise UsageError("nono audit needs an action: list, show or verify")
    return {"list": _list, "show": _show, "verify": _verify}[action](trail, args)


def _list(trail: Any, args: argparse.Namespace) -> int:
    sessions = trail.sessions()
    if args.json:
        print(json.dumps([vars(s) for s in sessions], indent=2, sort_keys=True))
        return 0
    if not sessions:
        print("no audited sessions")
        return 0
    print(
        f"{'SESSION':<26}  {'STARTED (UTC)':<19}  {'EXIT':>4}  {'RECORDS':>7}  {'STATUS':<8}  COMMAND"
    )
    for s in sessions:
        started = (s.started or "")[:19].replace("T", " ")
        code = "" if s.exit_code is None else str(s.exit_code)
        status = s.status + ("+sig" if s.signed else "")
        print(
            f"{s.id:<26}  {started:<19}  {code:>4}  {s.records:>7}  {status:<8}  {' '.join(s.command)}"
        )
    return 0


def _show(trail: Any, args: argparse.Namespace) -> int:
    session_id = trail.resolve(args.id)
    lines = trail.read_session(session_id)
    if args.json:
        print(json.dumps([r for _, r in lines], indent=2, sort_keys=True))
        return 0
    print(f"session {session_id}")
    for number, record in lines:
        if record is None:
            print(f"  line {number}: (not a valid record)")
            continue
        time = str(record.get("time", ""))[11:23]
        fields = {
            k: v
            for k, v in record.items()
            if k not in ("seq", "time", "kind", "session", "prev", "hash")
        }
        detail = "  ".join(f"{k}={_value(v)}" for k, v in sorted(fields.items()))
        print(f"  {record.get('seq', '?'):>4}  {time}  {record.get('kind', '?'):<19}  {detail}")
    return 0


def _verify(trail: Any, args: argparse.Namespace) -> int:
    from nonoc.runtime.audit import verify_trail

    session_id = trail.resolve(args.id) if args.id else None
    trusted = _trusted_keys(args.key) if args.key else None
    report = verify_trail(
        trail, session_id, trusted_keys=trusted, require_signature=args.require_signature
    )
    for note in report.notes:
        print(f"note: {note}")
    scope = f"session {session_id}" if session_id else "audit trail"
    if report.ok:
        print(
            f"{scope}: OK ({report.sessions} sessions, {report.records} records, ledger chain intact)"
        )
        return 0
    for finding in report.findings:
        print(f"error: {finding.render()}", file=sys.stderr)
    print(f"{scope}: FAILED verification ({len(report.findings)} problems)", file=sys.stderr)
    return 1


def _trusted_keys(paths: list[str]) -> dict[str, bytes]:
    import hashlib

    from nonoc.bundle.keys import public_raw_from_file

    keys = {}
    for path in paths:
        raw = public_raw_from_file(path)
        keys[hashlib.sha256(raw).hexdigest()] = raw
    return keys


def _value(value: Any) -> str:
    if isinstance(value, str):
        return value if value and " " not in value else json.dumps(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"))
