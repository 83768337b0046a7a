"""The parent's hook points, in process: order of calls, a connect port added for the child.

These tests fork the test process itself (``run_child``); the child applies the sandbox
and execs the probe, so nothing of the sandbox stays in pytest.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest
from test_run_support import PROBE, PYTHON, Sandbox, require_landlock

from nonoc.bundle import keys
from nonoc.runtime.config import Settings
from nonoc.runtime.flags import parse
from nonoc.runtime.run import session
from nonoc.runtime.run.prepare import prepare
from nonoc.runtime.run.start import private_payload

pytestmark = pytest.mark.kernel


class Recorder(session.Hook):
    """Records the calls; optionally opens a TCP port for the child (as the proxy hook will)."""

    def __init__(self, port: int | None = None) -> None:
        self.calls: list[str] = []
        self.port = port

    def before_spawn(self, launch: session.Launch) -> None:
        self.calls.append("before_spawn")
        if self.port is not None:
            launch.add_connect_port(self.port, "test")
            launch.environ["NONO_TEST_HOOK"] = "set by a hook"

    def after_spawn(self, launch: session.Launch) -> None:
        self.calls.append(f"after_spawn {launch.pid is not None}")

    def after_exit(self, launch: session.Launch, exit_code: int) -> None:
        self.calls.append(f"after_exit {exit_code}")


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    require_landlock()
    sandbox = Sandbox(tmp_path.resolve())
    for name, value in sandbox.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(keys, "_usable_keyring", lambda: None)
    monkeypatch.chdir(sandbox.work)
    return sandbox


def launch_probe(sandbox: Sandbox, ops: list[list[str]]) -> session.Launch:
    request = parse(
        ["--profile", str(sandbox.profile), "--", PYTHON, "-I", "-S", "-c", PROBE, json.dumps(ops)]
    )
    assert request is not None
    prepared = prepare(request, Settings())
    return session.Launch(private_payload(prepared.payload, []), request.command, dict(os.environ))


def test_hooks_run_in_order_and_can_open_a_port(
    isolated: Sandbox, capfd: pytest.CaptureFixture[str]
) -> None:
    isolated.profile = isolated.write_profile("network proxy")
    with socket.socket() as server, socket.socket() as other:
        for listener in (server, other):
            listener.bind(("127.0.0.1", 0))
            listener.listen(4)
        port, closed = server.getsockname()[1], other.getsockname()[1]
        launch = launch_probe(
            isolated, [["connect", str(port)], ["connect", str(closed)], ["env", "NONO_TEST_HOOK"]]
        )
        hook = Recorder(port)
        code = session.run_child(launch, [hook])
        out = capfd.readouterr().out
    assert code == 0
    assert json.loads(out.strip().splitlines()[-1]) == ["OK", "EACCES", "set by a hook"]
    assert hook.calls == ["before_spawn", "after_spawn True", "after_exit 0"]


def test_a_failing_before_spawn_stops_the_run(isolated: Sandbox) -> None:
    class Refuse(session.Hook):
        def before_spawn(self, launch: session.Launch) -> None:
            from nonoc.errors import NonoError

            raise NonoError("instruction file CLAUDE.md is not signed")

    first = Recorder()
    launch = launch_probe(isolated, [["env", "HOME"]])
    from nonoc.errors import NonoError

    with pytest.raises(NonoError, match="not signed"):
        session.run_child(launch, [first, Refuse()])
    assert first.calls == ["before_spawn", "after_exit 1"]  # cleaned up, never spawned
