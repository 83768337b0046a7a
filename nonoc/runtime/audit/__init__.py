"""The audit trail: what ran, when, under which policy, and what it was allowed to do.

API for ``nono run``::

    from nonoc.runtime.audit import AuditSession

    session = AuditSession.open(
        command=argv,                     # redacted by rule before it is written
        session_id=session_id,            # shared with the rollback snapshots
        policy_digest=bundle_digest, profile="claude-code", landlock_abi=7,
        signing_key=key,                  # optional: Ed25519 (the bundle key), signs the final hash
    )
    session.record("policy", digest=bundle_digest, profile="claude-code")
    session.record("snapshot", snapshot_id=before.id, label="before", merkle_root=before.merkle_root)
    session.record("network_decision", host="pypi.org", port=443, decision="allow", rule="p3")
    session.record("supervisor_decision", syscall="openat", path="/etc/shadow", decision="deny")
    session.record("command", argv=["git", "push"], decision="blocked")
    session.close(exit_code)              # session_end + the ledger's close entry; returns the final hash

Proxy and supervisor decisions go straight in: ``ProxyConfig(on_event=session.network_event)``,
``Supervisor(on_event=session.supervisor_event)``. As a ``nono run`` hook: :class:`AuditHook`
(``nonoc.runtime.audit.hook``), installed first so that it closes last.

``AuditSession`` is also a context manager (closes with 0, or 1 on an exception).
Reading and checking: :class:`AuditTrail` (``sessions()``, ``read_session(id)``) and
:func:`verify_trail` (returns :class:`AuditReport` whose findings name each changed,
removed or reordered record). Files live in ``$XDG_STATE_HOME/nono/audit``, which
``nono run`` must deny to the agent (see :mod:`nonoc.runtime.rollback`).

Event kinds: ``session_start``, ``session_end`` (written by the session itself),
``policy``, ``network_decision``, ``supervisor_decision``, ``snapshot``, ``command``,
``trust`` (the instruction-file check before the agent starts).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from nonoc.runtime.audit.chain import EVENT_KINDS
    from nonoc.runtime.audit.hook import AuditHook
    from nonoc.runtime.audit.redact import redact_argv
    from nonoc.runtime.audit.session import AuditSession, default_root, new_session_id
    from nonoc.runtime.audit.trail import AuditError, AuditTrail, SessionInfo
    from nonoc.runtime.audit.verify import AuditReport, Finding, verify_trail

# Names are loaded on first use (PEP 562): ``nono run`` writes a trail on every start and
# must not pay for the reading and checking side (dataclasses, json, pathlib…).
_HOMES = {
    "EVENT_KINDS": "chain",
    "AuditHook": "hook",
    "redact_argv": "redact",
    "AuditSession": "session",
    "default_root": "session",
    "new_session_id": "session",
    "AuditError": "trail",
    "AuditTrail": "trail",
    "SessionInfo": "trail",
    "AuditReport": "verify",
    "Finding": "verify",
    "verify_trail": "verify",
}


def __getattr__(name: str) -> object:
    module = _HOMES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(__import__(f"{__name__}.{module}", fromlist=[name]), name)


__all__ = [
    "EVENT_KINDS",
    "AuditError",
    "AuditHook",
    "AuditReport",
    "AuditSession",
    "AuditTrail",
    "Finding",
    "SessionInfo",
    "default_root",
    "new_session_id",
    "redact_argv",
    "verify_trail",
]
