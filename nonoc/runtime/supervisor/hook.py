"""``nono run``'s supervisor hook: mediate sockets and metadata always, opens with ``--supervised``.

Plugged into ``nonoc.runtime.run.session.run_child`` as a ``Hook``, after the audit hook::

    from nonoc.runtime.supervisor.hook import SupervisorHook
    hooks.append(SupervisorHook(supervised=request.supervised, answers_file=request.answers,
                                audit=audit))   # anything with record(kind, **fields)

* ``before_spawn``: decides what to mediate (opens if supervised; unix sockets on kernels
  whose Landlock lacks the unix-socket right, ABI < 9; metadata when the bundle's launch
  section says ``protect_metadata``) and takes the second, notify-only seccomp filter
  (``lowering.notify_filter``, precompiled): the bundle is not recompiled;
* the child installs that filter right after the bundle's own (the last thing before
  ``execve``) and hands its listener over (:mod:`handoff`);
* ``after_spawn``: builds the grant table while the child sandboxes itself, takes the
  listener and starts the supervisor threads. If anything fails, the child is killed:
  mediation that was asked for is never skipped;
* ``after_exit``: stops the supervisor and writes the count of granted continues.

The child side. Until the launcher offers a way to install a filter of the caller's after
the bundle's, this hook wraps ``nonoc.launch.seccomp.install`` between ``before_spawn`` and
``after_spawn`` (the forked child inherits the wrapper; the parent gets the original back
before it does anything else). The launcher needs only to call, after its own install::

    handoff.install_and_hand_over(hook.program, hook.child_channel)

and the wrapper can go (``docs/supervisor.md``, "Integration").
"""

from __future__ import annotations

import os

from nonoc.launch import seccomp as filters
from nonoc.runtime.run.session import Hook, Launch
from nonoc.runtime.supervisor import handoff
from nonoc.runtime.supervisor.lowering import Mediation, notify_filter, socket_mediation_needed

TYPE_CHECKING = False
if TYPE_CHECKING:  # ``nono run`` imports this module every run: typing, pathlib… cost it
    from collections.abc import Callable
    from pathlib import Path
    from typing import Any

    from nonoc.runtime.supervisor.answers import AnswerSource
    from nonoc.runtime.supervisor.record import AuditRecorder, AuditSink
    from nonoc.runtime.supervisor.supervisor import Supervisor
    from nonoc.runtime.supervisor.verdict import Event


class SupervisorHook(Hook):
    """Attach a supervisor to one ``nono run`` child (see the module docstring)."""

    def __init__(
        self,
        *,
        supervised: bool = False,
        answers: AnswerSource | None = None,
        answers_file: str | Path | None = None,
        on_event: Callable[[Event], None] | None = None,
        audit: AuditSink | None = None,
        prompt_timeout: float = 30.0,
        landlock_abi: int | None = None,
    ) -> None:
        self.supervised = supervised
        if answers is None and answers_file:
            from nonoc.runtime.supervisor.answers import FileAnswers

            answers = FileAnswers.load(answers_file)  # a bad file stops the run before it starts
        self.answers = answers
        self.recorder: AuditRecorder | None = None
        if audit is not None:
            from nonoc.runtime.supervisor.record import AuditRecorder

            self.recorder = AuditRecorder(audit)
        self.on_event = on_event
        self.prompt_timeout = prompt_timeout
        self.landlock_abi = landlock_abi
        self.mediation = Mediation()
        self.program = b""
        self.child_channel = -1
        self._parent_channel = -1
        self._original: Any = None
        self.supervisor: Supervisor | None = None

    def before_spawn(self, launch: Launch) -> None:
        """Decide what to mediate, build the table and the filter, arm the child side."""
        from nonoc.launch import landlock
        from nonoc.launch.seccomp import native_arch

        linux = launch.payload.get("linux") or {}
        abi = self.landlock_abi if self.landlock_abi is not None else landlock.abi_version()
        self.mediation = Mediation(
            opens=self.supervised,
            sockets=socket_mediation_needed(abi),
            metadata=bool((linux.get("launch") or {}).get("protect_metadata")),
        )
        if not self.mediation.any:
            return
        if not linux.get("seccomp"):
            from nonoc.errors import SandboxError

            raise SandboxError("the bundle has no seccomp filter to attach the supervisor's after")
        self.program = notify_filter(self.mediation, native_arch())
        import _socket  # the C module: ``socket`` builds enums at import

        parent, child = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
        self._parent_channel, self.child_channel = parent.detach(), child.detach()
        self._arm()

    def _arm(self) -> None:
        """Wrap the launcher's install so the forked child installs our filter right after."""
        original = self._original = filters.install
        program, channel = self.program, self.child_channel

        def install(bundle_program: bytes, *, flags: int = 0) -> int | None:
            result = original(bundle_program, flags=flags)
            handoff.install_and_hand_over(program, channel, install=original)
            return result

        filters.install = install  # type: ignore[assignment]

    def _disarm(self) -> None:
        if self._original is not None:
            filters.install = self._original
            self._original = None
        if self.child_channel >= 0:
            os.close(self.child_channel)
            self.child_channel = -1

    def after_spawn(self, launch: Launch) -> None:
        """Take the child's listener and start serving it; kill the child if it never comes."""
        self._disarm()
        if not self.mediation.any or launch.pid is None:
            return
        try:
            # Imported while the child sets its sandbox up, before waiting for its listener.
            from nonoc.runtime.supervisor.grants import GrantTable
            from nonoc.runtime.supervisor.prompt import SandboxFreezer, TerminalPrompter
            from nonoc.runtime.supervisor.supervisor import Supervisor

            # Built now, not before the fork (other hooks may have added rules: the proxy's
            # port), and before taking the listener: the child is busy sandboxing itself.
            grants = GrantTable.from_payload(launch.payload, environ=launch.environ)
            listener = handoff.receive_listener(launch.pid, self._parent_channel)
            answers = self.answers
            if answers is None and self.mediation.opens:
                freeze = SandboxFreezer(launch.pid).frozen
                answers = TerminalPrompter(timeout=self.prompt_timeout, freeze=freeze)
            self.supervisor = Supervisor(listener, grants, answers=answers, on_event=self._report)
            self.supervisor.start()
        except (
            Exception
        ) as exc:  # mediation that was asked for is never skipped: no supervisor, no child
            try:
                os.kill(launch.pid, 9)  # SIGKILL
            except ProcessLookupError:
                pass
            from nonoc.errors import SandboxError

            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise SandboxError(
                f"the supervisor could not attach to the sandboxed command: {why}"
            ) from None
        finally:
            os.close(self._parent_channel)
            self._parent_channel = -1

    def _report(self, event: Event) -> None:
        if self.recorder is not None:
            self.recorder(event)
        if self.on_event is not None:
            self.on_event(event)

    def after_exit(self, launch: Launch, exit_code: int) -> None:
        """Stop the supervisor (the sandbox is gone) and release what is left."""
        self._disarm()
        if self._parent_channel >= 0:
            os.close(self._parent_channel)
            self._parent_channel = -1
        if self.supervisor is not None:
            self.supervisor.wait(2.0)
            self.supervisor.stop()
            if self.recorder is not None:
                self.recorder.close(self.supervisor.granted)
