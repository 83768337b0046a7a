"""The audit hook as the proxy's and the supervisor's sink, in a real ``nono run`` parent.

The run is driven in process (``session.run_child``, as ``start`` does) with the hooks
``parent_hooks`` builds, which end with ``SupervisorHook(audit=audit)``: the forked child connects
to a unix socket the policy does not grant, the supervisor refuses it and the refusal is
recorded. A proxy decision (a real ``ProxyEvent``) is delivered through
``audit.network_event`` from another thread, as the proxy's thread would.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest
from test_run_support import PYTHON, Sandbox, require_landlock

from nonoc.bundle import keys
from nonoc.runtime.audit import AuditTrail, verify_trail
from nonoc.runtime.audit.hook import AuditHook
from nonoc.runtime.config import Settings
from nonoc.runtime.flags import parse
from nonoc.runtime.proxy.events import ProxyEvent, Reason
from nonoc.runtime.run import session
from nonoc.runtime.run.prepare import prepare
from nonoc.runtime.run.start import parent_hooks, private_payload

pytestmark = pytest.mark.kernel

CHILD = r"""
import socket
s = socket.socket(socket.AF_UNIX)
try:
    s.connect("/run/nono-test-not-granted.sock")
except OSError as exc:
    print("refused", exc.errno)
"""


class ProxyThread(session.Hook):
    """Stands in for the proxy: delivers one decision from its own thread."""

    def __init__(self, sink: object) -> None:
        self.sink = sink

    def after_spawn(self, launch: session.Launch) -> None:
        event = ProxyEvent(
            "connect", "pypi.org", 443, True, Reason.ALLOWLISTED, client="127.0.0.1:5"
        )
        thread = threading.Thread(target=self.sink, args=(event,))  # type: ignore[arg-type]
        thread.start()
        thread.join()


def test_network_and_supervisor_decisions_reach_the_trail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    require_landlock()
    from nonoc.runtime.supervisor.hook import SupervisorHook

    box = Sandbox(tmp_path.resolve())
    for name, value in box.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(keys, "_usable_keyring", lambda: None)
    monkeypatch.chdir(box.work)
    request = parse(
        ["--profile", str(box.profile), "--allow", ".", "--", PYTHON, "-I", "-S", "-c", CHILD]
    )
    assert request is not None
    prepared = prepare(request, Settings())
    payload = private_payload(prepared.payload, [])
    hooks = parent_hooks(request, payload)
    audit = hooks[0]
    assert isinstance(audit, AuditHook)
    # nono run's own supervisor (a second one could not be attached: one listener per filter
    # chain), fed by the audit hook.
    assert isinstance(hooks[-1], SupervisorHook) and hooks[-1].audit is audit
    hooks += [ProxyThread(audit.network_event)]
    launch = session.Launch(
        payload, request.command, dict(os.environ), bundle_digest=prepared.digest
    )
    code = session.run_child(launch, hooks)
    out = capfd.readouterr().out
    assert code == 0
    assert "refused" in out

    trail = AuditTrail()
    assert audit.session is not None
    recorded = [r for _, r in trail.read_session(audit.session.id)]
    kinds = [r["kind"] for r in recorded]
    assert kinds[:2] == ["session_start", "policy"] and kinds[-1] == "session_end"
    network = next(r for r in recorded if r["kind"] == "network_decision")
    assert (
        network["host"] == "pypi.org"
        and network["allowed"] is True
        and network["reason"] == "allowlisted"
    )
    refusals = [
        r for r in recorded if r["kind"] == "supervisor_decision" and r["decision"] == "deny"
    ]
    assert refusals and refusals[0]["syscall"] == "connect"
    assert json.dumps(refusals[0]).count("nono-test-not-granted.sock") == 1
    assert verify_trail(trail).ok

    # After close, the sinks drop events instead of raising into the proxy's thread.
    audit.network_event(ProxyEvent("connect", "x", 1, False, Reason.NOT_ALLOWLISTED))
