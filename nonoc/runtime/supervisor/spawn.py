"""Start a command sandboxed by a verified payload, with its listener handed to this process.

This is the launcher's order of work (``nonoc.launch.apply``) in a forked child — plan,
Landlock, ``no_new_privs``, seccomp, ``execve`` — except that the filter is installed with
a listener, which :mod:`handoff` passes to the parent before the command runs. ``nono run``
uses it when it supervises; tests use it to run real children under a real supervisor.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nonoc.errors import SandboxError
from nonoc.launch import apply, rights  # noqa: F401  (rights: imported before Landlock applies)
from nonoc.launch import plan as planning
from nonoc.launch import seccomp as filters
from nonoc.runtime.supervisor import handoff

EXIT_CANNOT_RUN = 126


@dataclass
class SupervisedChild:
    """A running sandboxed command: its pid and the listener descriptor (ours to close)."""

    pid: int
    listener: int | None

    def wait(self) -> int:
        """Reap the command; its exit status as a shell reports it (128+N for signal N)."""
        _, status = os.waitpid(self.pid, 0)
        return (
            os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
        )


def spawn(
    payload: Mapping[str, Any],
    argv: Sequence[str],
    *,
    environ: Mapping[str, str] | None = None,
    cwd: str | None = None,
    stdio: tuple[int | None, int | None, int | None] = (None, None, None),
    new_session: bool = False,
) -> SupervisedChild:
    """Fork, sandbox the child as ``payload`` says and exec ``argv``; take its listener.

    ``environ`` is the environment the payload's variables are resolved in and the child
    starts from; ``stdio`` replaces the child's descriptors 0-2 where given. Raises
    ``SandboxError`` when the child cannot be sandboxed (it exits 126 and says why on its
    stderr). The listener is ``None`` when the payload's filter notifies nothing.
    """
    env = dict(os.environ if environ is None else environ)
    linux = payload.get("linux") or {}
    seccomp = linux.get("seccomp")
    launch = linux.get("launch") or {}
    needs_listener = bool(seccomp and seccomp.get("needs_listener"))
    program = filters.decode(seccomp) if seccomp else None
    child_env = apply.child_environment(launch, env)
    command = apply.find_command(argv[0], child_env)
    if command is None:
        error = SandboxError(f"{argv[0]}: command not found")
        error.exit_code = 127
        raise error
    parent_end, child_end = _channel()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child never returns into the test runner
        os.close(parent_end)
        _child(
            linux,
            payload,
            argv,
            command,
            env,
            child_env,
            program,
            needs_listener,
            child_end,
            cwd,
            stdio,
            new_session,
        )
    os.close(child_end)
    try:
        listener = handoff.receive_listener(pid, parent_end) if needs_listener else None
    except OSError as exc:
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        raise SandboxError(
            f"the sandboxed command did not start (exit {code}): {exc.strerror}"
        ) from None
    finally:
        os.close(parent_end)
    return SupervisedChild(pid, listener)


def _channel() -> tuple[int, int]:
    """A connected pair of descriptors for the hand-off (parent end, child end)."""
    import socket

    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    return parent.detach(), child.detach()


def _child(
    linux: Mapping[str, Any],
    payload: Mapping[str, Any],
    argv: Sequence[str],
    command: str,
    env: Mapping[str, str],
    child_env: Mapping[str, str],
    program: bytes | None,
    needs_listener: bool,
    channel: int,
    cwd: str | None,
    stdio: tuple[int | None, int | None, int | None],
    new_session: bool,
) -> None:
    """The forked child: never returns (execs the command, or exits 126)."""
    try:
        if new_session:
            os.setsid()
        for target, source in enumerate(stdio):
            if source is not None:
                os.dup2(source, target)
        if cwd is not None:
            os.chdir(cwd)
        provenance = apply.linux_provenance(payload)
        plan = planning.build(linux["landlock"], provenance, environ=env)
        apply.enforce(plan)
        if program is not None:
            if needs_listener:
                handoff.install_and_hand_over(program, channel)
            else:
                filters.install(program)
        os.close(channel)
        os.execve(command, list(argv), dict(child_env))
    except BaseException as exc:  # report and leave: never fall back into the parent's code
        try:
            os.write(2, f"nono: cannot start {argv[0]}: {exc}\n".encode())
        finally:
            os._exit(EXIT_CANNOT_RUN)
