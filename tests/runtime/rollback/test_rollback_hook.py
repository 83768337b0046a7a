"""The rollback and audit hooks as ``nono run`` drives them: before_spawn, after_spawn, after_exit."""

from __future__ import annotations

import io
from pathlib import Path

from nonoc.runtime.audit import AuditHook, AuditTrail, verify_trail
from nonoc.runtime.rollback import RollbackHook, SnapshotStore


class FakeLaunch:
    """What the hooks read from ``nonoc.runtime.run.session.Launch``."""

    def __init__(self, argv: list[str]) -> None:
        self.argv, self.session_id, self.pid = argv, None, None


def test_hooks_snapshot_record_and_undo(
    store: SnapshotStore, project: Path, tmp_path: Path
) -> None:
    audit_root = tmp_path / "audit"
    stream = io.StringIO()
    audit = AuditHook(root=audit_root, policy_digest="sha256:00", landlock_abi=7)
    rollback = RollbackHook([project], store=store, audit=audit, stream=stream)
    launch = FakeLaunch(["agent", "--token", "t0k3n"])
    hooks = [audit, rollback]
    for hook in hooks:
        hook.before_spawn(launch)
    launch.pid = 4242
    for hook in hooks:
        hook.after_spawn(launch)
    (project / "src" / "app.py").write_text("agent was here\n")  # the "child" at work
    (project / "created.txt").write_text("new")
    for hook in reversed(hooks):
        hook.after_exit(launch, 3)

    assert rollback.before and rollback.after
    assert rollback.before.session == rollback.after.session == launch.session_id
    assert (
        f"1 added, 1 modified, 0 deleted; undo with `nono rollback restore {rollback.before.id}`"
        in stream.getvalue()
    )
    trail = AuditTrail(audit_root)
    records = [r for _, r in trail.read_session(launch.session_id)]
    assert [r["kind"] for r in records] == [
        "session_start",
        "snapshot",
        "command",
        "snapshot",
        "session_end",
    ]
    assert records[0]["command"] == ["agent", "--token", "<redacted>"]
    assert [r["merkle_root"] for r in records if r["kind"] == "snapshot"] == [
        rollback.before.merkle_root,
        rollback.after.merkle_root,
    ]
    assert records[-1]["exit_code"] == 3
    assert verify_trail(trail).ok
    store.restore(rollback.before.id)
    assert not (project / "created.txt").exists()


def test_proxy_and_supervisor_events_are_recorded(tmp_path: Path) -> None:
    from nonoc.runtime.audit import AuditSession
    from nonoc.runtime.proxy.events import ProxyEvent, Reason
    from nonoc.runtime.supervisor.verdict import Event

    session = AuditSession.open(root=tmp_path / "audit")
    session.network_event(ProxyEvent("connect", "pypi.org", 443, True, Reason.ALLOWLISTED))
    session.supervisor_event(
        Event("openat", 77, "deny", "never_grantable", path="/etc/shadow", error=13)
    )
    session.close(0)
    records = [r for _, r in AuditTrail(tmp_path / "audit").read_session(session.id)]
    network, supervisor = records[1], records[2]
    assert network["kind"] == "network_decision" and network["host"] == "pypi.org"
    assert (
        network["reason"] == "allowlisted"
        and network["allowed"] is True
        and "event_time" in network
    )
    assert network["event_kind"] == "connect"
    assert supervisor["kind"] == "supervisor_decision" and supervisor["errno"] == "EACCES"
    assert supervisor["path"] == "/etc/shadow"


def test_a_failed_before_snapshot_stops_the_run(store: SnapshotStore, tmp_path: Path) -> None:
    import pytest

    from nonoc.errors import NonoError

    blocked = tmp_path / "not-a-dir"
    blocked.write_text("x")
    hook = RollbackHook([tmp_path / "project-missing"], store=SnapshotStore(blocked / "store"))
    with pytest.raises(NonoError, match="cannot snapshot the writable trees"):
        hook.before_spawn(FakeLaunch(["x"]))
