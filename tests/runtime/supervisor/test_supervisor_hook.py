"""Live, through ``nono run``'s own session: the hook attaches a second, notify-only filter."""

from __future__ import annotations

import os
import socket
from typing import Any

import pytest
from supervisor_helpers import PYTHON, Tree, compile_payload

from nonoc.launch import seccomp as filters
from nonoc.runtime.run import session
from nonoc.runtime.supervisor.answers import CallbackAnswers
from nonoc.runtime.supervisor.hook import SupervisorHook
from nonoc.runtime.supervisor.lowering import Mediation, socket_mediation_needed
from nonoc.runtime.supervisor.verdict import Event

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("kernel")]


def plain_payload(body: str) -> dict[str, Any]:
    """A bundle compiled as ``nono run`` compiles it: no notify rule in it."""
    return compile_payload(body, opens=False, sockets=False, metadata=False)


def run(
    payload: dict[str, Any],
    code: str,
    env: dict[str, str],
    hook: SupervisorHook,
    capsys: pytest.CaptureFixture[str],
) -> tuple[int, str]:
    with capsys.disabled():
        read_end, write_end = os.pipe()
        saved = os.dup(1)
        os.dup2(write_end, 1)
        os.close(write_end)
        try:
            status = session.run_child(
                session.Launch(payload, [PYTHON, "-I", "-S", "-c", code], dict(env)), [hook]
            )
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        output = os.read(read_end, 65536).decode()
        os.close(read_end)
    return status, output


def test_supervised_run_asks_and_the_agent_reads(
    tree: Tree, capsys: pytest.CaptureFixture[str]
) -> None:
    from nonoc.runtime.audit import AuditSession, AuditTrail

    payload = plain_payload(f'allow "{tree.work}"')
    assert not payload["linux"]["seccomp"]["needs_listener"]
    answers = CallbackAnswers(lambda q: True)
    events: list[Event] = []
    audit = AuditSession.open(command=["python3"], root=tree.root / "audit")
    hook = SupervisorHook(supervised=True, answers=answers, on_event=events.append, audit=audit)
    status, output = run(
        payload, f"print(open({str(tree.outside / 'notes.txt')!r}).read())", tree.env, hook, capsys
    )
    audit.close(status)
    assert (status, output) == (0, "outside notes\n")
    assert [q.path for q in answers.asked] == [str(tree.outside / "notes.txt")]
    assert filters.install.__module__ == "nonoc.launch.seccomp"  # nothing is wrapped
    assert hook.supervisor is not None and not hook.supervisor._threads[0].is_alive()
    records = [r for _, r in AuditTrail(tree.root / "audit").read_session(audit.id) if r]
    decisions = [r for r in records if r["kind"] == "supervisor_decision"]
    assert [(r["decision"], r["reason"]) for r in decisions] == [
        ("allow", "approved"),
        ("continue", "granted"),
    ]
    assert decisions[0]["path"] == str(tree.outside / "notes.txt")
    assert decisions[1]["count"] == sum(decisions[1]["by_syscall"].values()) > 10


def test_unsupervised_run_still_mediates_unix_sockets(
    tree: Tree, capsys: pytest.CaptureFixture[str]
) -> None:
    if not socket_mediation_needed(7):
        pytest.skip("unreachable")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(tree.outside / "docker.sock"))
    server.listen(1)
    try:
        payload = plain_payload(f'allow "{tree.work}"')
        hook = SupervisorHook(supervised=False, landlock_abi=7)
        code = (
            "import socket, errno\ns = socket.socket(socket.AF_UNIX)\n"
            f"try:\n    s.connect({str(tree.outside / 'docker.sock')!r}); print('connected')\n"
            "except OSError as e:\n    print(errno.errorcode[e.errno])\n"
        )
        status, output = run(payload, code, tree.env, hook, capsys)
        assert (status, output) == (0, "EACCES\n")
        assert hook.mediation == Mediation(opens=False, sockets=True, metadata=False)
    finally:
        server.close()


def test_on_landlock_abi_9_sockets_are_left_to_landlock_only_if_the_bundle_handles_them(
    tree: Tree, capsys: pytest.CaptureFixture[str]
) -> None:
    payload = plain_payload(f'allow "{tree.work}"')
    # Today's bundles do not handle Landlock's unix-socket right: still mediated on ABI 9.
    hook = SupervisorHook(supervised=False, landlock_abi=9)
    status, output = run(payload, "print('ran')", tree.env, hook, capsys)
    assert (status, output) == (0, "ran\n")
    assert hook.mediation == Mediation(opens=False, sockets=True, metadata=False)
    # A table that handles it (as the backend will write for ABI 9): Landlock's job.
    payload["linux"]["landlock"]["handled_fs"] = [
        *payload["linux"]["landlock"]["handled_fs"],
        "RESOLVE_UNIX",
    ]
    hook = SupervisorHook(supervised=False, landlock_abi=9)
    hook.before_spawn(session.Launch(payload, [PYTHON], dict(tree.env)))
    assert not hook.mediation.any and not hook.program
    hook.after_exit(session.Launch(payload, [PYTHON], dict(tree.env)), 0)


def test_a_bundle_without_a_filter_is_still_mediated(
    tree: Tree, capsys: pytest.CaptureFixture[str]
) -> None:
    """The launcher's ``before_exec`` point runs whether or not the bundle has a filter."""
    payload = plain_payload(f'allow "{tree.work}"')
    del payload["linux"]["seccomp"]
    hook = SupervisorHook(supervised=True, answers=CallbackAnswers(lambda q: True))
    status, output = run(
        payload, f"print(open({str(tree.outside / 'notes.txt')!r}).read())", tree.env, hook, capsys
    )
    assert (status, output) == (0, "outside notes\n")
    assert hook.supervisor is not None and hook.supervisor.counts.get("approved") == 1


def test_a_run_without_a_mediated_call_starts_no_supervisor(
    tree: Tree, capsys: pytest.CaptureFixture[str]
) -> None:
    """The hook watches the listener; the supervisor is built at the first notification only."""
    payload = plain_payload(f'allow "{tree.work}"')
    hook = SupervisorHook(supervised=False, landlock_abi=7)
    status, output = run(payload, "print('ran')", tree.env, hook, capsys)
    assert (status, output) == (0, "ran\n")
    assert hook.mediation.sockets and hook.supervisor is None and hook.failure is None
    assert hook.listener == -1 and hook._watching is None


def test_a_supervisor_that_cannot_be_built_stops_the_sandbox(
    tree: Tree, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Built at the first notification: if that fails, the command is killed, never let on
    without the mediation (the parked call is never answered "continue")."""
    from nonoc.runtime.supervisor import grants

    def broken(cls: object, *args: object, **kwargs: object) -> None:
        raise ValueError("no grant table today")

    monkeypatch.setattr(grants.GrantTable, "from_record", classmethod(broken))
    hook = SupervisorHook(supervised=False, landlock_abi=7)
    code = (
        "import socket\ns = socket.socket(socket.AF_UNIX)\n"
        "try:\n    s.connect('/nonexistent')\nexcept OSError:\n    pass\nprint('went on')\n"
    )
    payload = plain_payload(f'allow "{tree.work}"')
    launch = session.Launch(payload, [PYTHON, "-I", "-S", "-c", code], dict(tree.env))
    status = session.run_child(launch, [hook])
    out, err = capfd.readouterr()
    assert (status, out) == (128 + 9, "")
    assert hook.failure == "no grant table today" and hook.supervisor is None
    assert "nono: error: the supervisor could not start (no grant table today)" in err


def test_an_answers_file_decides_without_a_terminal(
    tree: Tree, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = tree.root / "answers.txt"
    answers.write_text(f"allow read {tree.outside}/notes.*\n")
    (tree.outside / "other.txt").write_text("o")
    hook = SupervisorHook(supervised=True, answers_file=answers)
    code = (
        "import errno\n"
        f"print(open({str(tree.outside / 'notes.txt')!r}).read())\n"
        f"try:\n    open({str(tree.outside / 'other.txt')!r})\n"
        "except OSError as e:\n    print(errno.errorcode[e.errno])\n"
    )
    status, output = run(plain_payload(f'allow "{tree.work}"'), code, tree.env, hook, capsys)
    assert (status, output) == (0, "outside notes\nEPERM\n")


def test_a_malformed_answers_file_stops_the_run_before_it_starts(tree: Tree) -> None:
    from nonoc.errors import NonoError

    answers = tree.root / "answers.txt"
    answers.write_text("allow everything\n")
    with pytest.raises(NonoError) as caught:
        SupervisorHook(supervised=True, answers_file=answers)
    assert caught.value.render().startswith(f"{answers}:1:1: error: expected 'allow|deny")
