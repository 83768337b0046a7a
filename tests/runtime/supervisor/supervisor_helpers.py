"""Helpers for the supervisor tests: compile a policy through the real pipeline, run a real
child under Landlock + seccomp with its listener handed to a real supervisor, collect what
the kernel answered (the child prints JSON) and every decision the supervisor took."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from nonoc.backends.host import HostFacts
from nonoc.bundle.canonical import canonical_json
from nonoc.bundle.payload import build_payload
from nonoc.compile import _lower
from nonoc.launch.seccomp import native_arch
from nonoc.resolve import load_policy_text
from nonoc.runtime.supervisor.answers import AnswerSource, CallbackAnswers
from nonoc.runtime.supervisor.grants import GrantTable
from nonoc.runtime.supervisor.lowering import Mediation, with_notify_rules
from nonoc.runtime.supervisor.spawn import spawn
from nonoc.runtime.supervisor.supervisor import Supervisor
from nonoc.runtime.supervisor.verdict import Event

PYTHON = "/usr/bin/python3"

PRELUDE = textwrap.dedent(
    """
    import ctypes, errno, json, os, socket, sys
    results = {}
    def attempt(name, fn):
        try:
            value = fn()
            results[name] = "ok" if value is None else value
        except OSError as exc:
            results[name] = errno.errorcode.get(exc.errno, str(exc.errno))
    def read(path, **kw):
        with open(path, **kw) as handle:
            return handle.read()
    """
)
EPILOGUE = "\nprint(json.dumps(results))\n"


def compile_payload(
    body: str, *, opens: bool = True, sockets: bool = False, metadata: bool | None = None
) -> dict[str, Any]:
    """A verified-payload-shaped dict for a profile of ``body`` plus ``use system``.

    The supervisor's notify rules are added to the policy (one filter), as
    ``with_notify_rules`` does for a bundle compiled to be supervised.
    """
    text = f'profile t "supervisor test" {{\n  use system\n{textwrap.indent(body, "  ")}\n}}\n'
    policy = load_policy_text(text, "t.nono", "linux", profile="t")
    mediation = Mediation(
        opens=opens,
        sockets=sockets,
        metadata=policy.protect_metadata if metadata is None else metadata,
    )
    policy = with_notify_rules(policy, mediation, native_arch())
    build = _lower(policy, HostFacts.for_target("linux"), None)
    return dict(json.loads(canonical_json(build_payload({"linux": build}))))


@dataclass
class Outcome:
    """What a supervised run left: exit code, the child's JSON, output, decisions."""

    code: int
    results: dict[str, Any]
    stdout: str
    stderr: str
    events: list[Event] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def decisions(self, reason: str | None = None) -> list[Event]:
        """Decisions other than plain continues inside the grants (or with ``reason``)."""
        if reason is not None:
            return [e for e in self.events if e.reason == reason]
        return [e for e in self.events if e.reason != "granted"]


def run_supervised(
    payload: dict[str, Any],
    body: str,
    env: dict[str, str],
    *,
    answers: AnswerSource | None = None,
    cwd: str | Path | None = None,
    timeout: float = 30.0,
    supervisor_options: dict[str, Any] | None = None,
) -> Outcome:
    """Run ``PRELUDE + body`` in ``/usr/bin/python3 -I -S`` under ``payload`` and a supervisor."""
    if not os.path.exists(PYTHON):
        pytest.skip(f"{PYTHON} is missing (the child needs a Python under /usr)")
    code = PRELUDE + textwrap.dedent(body) + EPILOGUE
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        child = spawn(
            payload,
            [PYTHON, "-I", "-S", "-c", code],
            environ=env,
            cwd=str(cwd) if cwd else None,
            stdio=(None, out.fileno(), err.fileno()),
        )
        events: list[Event] = []
        grants = GrantTable.from_payload(payload, environ=env)
        supervisor = None
        if child.listener is not None:
            supervisor = Supervisor(
                child.listener,
                grants,
                answers=answers,
                on_event=events.append,
                **(supervisor_options or {}),
            )
            supervisor.start()
        status = _wait(child.pid, timeout)
        if supervisor is not None:
            supervisor.wait(5)
            supervisor.stop()
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    results = json.loads(lines[-1]) if lines else {}
    return Outcome(
        status, results, stdout, stderr, events, dict(supervisor.counts) if supervisor else {}
    )


def _wait(pid: int, timeout: float) -> int:
    import time

    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            raise AssertionError(f"the supervised child did not finish within {timeout}s")
        time.sleep(0.005)


def always(answer: bool) -> CallbackAnswers:
    """An answer source that says ``answer`` to everything (and records what it was asked)."""
    return CallbackAnswers(lambda question: answer)


def environment(home: Path) -> dict[str, str]:
    """A minimal environment with ``HOME`` (and so the XDG directories) under the test's tree."""
    return {"HOME": str(home), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}


def needs_kernel() -> None:
    """Skip unless this kernel has Landlock, seccomp user notification and pidfd_getfd."""
    from nonoc.launch import landlock
    from nonoc.runtime.supervisor.notif import ProtocolError, check_sizes

    if sys.platform != "linux":
        pytest.skip("the supervisor is Linux-only")
    if landlock.abi_version() <= 0:
        pytest.skip("this kernel has no Landlock")
    try:
        check_sizes()
    except ProtocolError as exc:
        pytest.skip(f"no usable seccomp user notification: {exc}")
    if not hasattr(os, "pidfd_open"):
        pytest.skip("os.pidfd_open is missing (Linux 5.3+ and Python 3.9+)")


@dataclass
class Tree:
    """``work`` is granted read-write by the test profiles; ``outside`` and ``home`` are not."""

    root: Path
    home: Path
    work: Path
    outside: Path
    secret: Path

    @property
    def env(self) -> dict[str, str]:
        """The environment the payload is resolved in and the child starts from."""
        return environment(self.home)
