"""``nono run``'s supervisor hook: mediate sockets and metadata always, opens with ``--supervised``.

``nono run`` installs it on every run (``nonoc.runtime.run.start.parent_hooks``), after the
audit hook::

    SupervisorHook(supervised=options.supervised, answers_file=options.answers, audit=audit)

* ``before_spawn``: decides what to mediate (opens if supervised; unix sockets unless
  Landlock does it — a kernel with its unix-socket right, ABI 9, *and* a bundle whose
  table handles that right, which nonoc does not write yet; metadata when the bundle's
  launch section says ``protect_metadata``) and takes the second, notify-only seccomp filter
  (``mediation.notify_filter``, precompiled): the bundle is not recompiled;
* ``in_sandbox`` (in the forked child, once the launcher has applied Landlock and the
  bundle's own filter, right before ``execve``): installs that filter last and hands its
  listener over (:mod:`handoff`), with what the ruleset it just applied grants
  (:func:`plan_record`), so that the parent never walks the host a second time;
* ``after_spawn``: takes the listener (killing the child if it never comes: mediation that
  was asked for is never skipped) and watches it. Nothing else happens until the sandbox
  makes its first mediated call: then the grant table is built, the supervisor modules are
  imported and its threads start, while that call waits (~15 ms, once; if it fails, the
  child is killed). A run whose command never connects, sends to an address, binds or
  opens outside the grants (``/bin/true``, ``git status``) pays for the hand-off only
  (``docs/performance.md``);
* ``after_exit``: stops the supervisor and writes the count of granted continues.
"""

from __future__ import annotations

import _thread
import errno
import os
import select

from nonoc.runtime.run.session import Hook, Launch
from nonoc.runtime.supervisor import handoff
from nonoc.runtime.supervisor.mediation import Mediation, notify_filter, socket_mediation_needed

TYPE_CHECKING = False
if TYPE_CHECKING:  # ``nono run`` imports this module every run: typing, pathlib… cost it
    from collections.abc import Callable
    from pathlib import Path

    from nonoc.launch.plan import Plan
    from nonoc.runtime.supervisor.answers import AnswerSource
    from nonoc.runtime.supervisor.record import AuditRecorder, AuditSink
    from nonoc.runtime.supervisor.supervisor import Supervisor
    from nonoc.runtime.supervisor.verdict import Event

_SIGKILL = 9
_GONE = select.POLLHUP | select.POLLERR | select.POLLNVAL


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
        self.audit = audit
        #: Made with the supervisor, from ``audit`` (its module imports typing).
        self.recorder: AuditRecorder | None = None
        self.on_event = on_event
        self.prompt_timeout = prompt_timeout
        self.landlock_abi = landlock_abi
        self.mediation = Mediation()
        self.program = b""
        #: The hand-off pipes: the child's ends (number out, answer in), then ours.
        self.child_channel = (-1, -1)
        self._parent_channel = (-1, -1)
        #: Our copy of the child's listener, until a supervisor owns it.
        self.listener = -1
        #: What the child's ruleset grants (:func:`plan_record`), as the child sent it.
        self.plan_record = b""
        self.supervisor: Supervisor | None = None
        #: Why the supervisor could not be started (the child was killed), if it could not.
        self.failure: str | None = None
        self._wake = (-1, -1)
        self._watching: _thread.LockType | None = None

    def before_spawn(self, launch: Launch) -> None:
        """Decide what to mediate, take the filter, make the hand-off channel."""
        from nonoc.launch import landlock
        from nonoc.launch.seccomp import native_arch

        linux = launch.payload.get("linux") or {}
        abi = self.landlock_abi if self.landlock_abi is not None else landlock.abi_version()
        handled = (linux.get("landlock") or {}).get("handled_fs") or ()
        self.mediation = Mediation(
            opens=self.supervised,
            sockets=socket_mediation_needed(abi, handled),
            metadata=bool((linux.get("launch") or {}).get("protect_metadata")),
        )
        if not self.mediation.any:
            return
        self.program = notify_filter(self.mediation, native_arch())
        # Two pipes rather than a socket pair: ``_socket`` would cost every run an import.
        from_child, to_parent = os.pipe()
        from_parent, to_child = os.pipe()
        self.child_channel, self._parent_channel = (to_parent, from_parent), (from_child, to_child)

    def in_sandbox(self, launch: Launch, plan: Plan) -> None:
        """In the child, after the bundle's filter: install ours last and hand the listener over."""
        if self.program:
            # The parent's ends: so that a parent that dies is seen as the end of the pipe.
            self._close_channel("_parent_channel")
            handoff.install_and_hand_over(self.program, *self.child_channel, data=plan_record(plan))

    def after_spawn(self, launch: Launch) -> None:
        """Take the child's listener and watch it; kill the child if it never comes."""
        self._close_channel("child_channel")
        if not self.mediation.any or launch.pid is None:
            return
        try:
            try:
                self.listener, self.plan_record = handoff.receive_hand_over(
                    launch.pid, *self._parent_channel
                )
            except OSError as exc:
                if exc.errno == errno.EPIPE:
                    # The child ended before its last step (command not found, a sandbox
                    # it could not apply): it never execs, and its exit code says why.
                    return
                raise
            self._wake = os.pipe()
            self._watching = _thread.allocate_lock()
            self._watching.acquire()
            _thread.start_new_thread(self._watch, (launch,))
        except Exception as exc:  # mediation that was asked for is never skipped
            self._kill(launch.pid)
            from nonoc.errors import SandboxError

            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise SandboxError(
                f"the supervisor could not attach to the sandboxed command: {why}"
            ) from None
        finally:
            self._close_channel("_parent_channel")

    def _watch(self, launch: Launch) -> None:
        """Until the first notification, the end of the sandbox, or ``after_exit``'s word."""
        assert self._watching is not None
        try:
            poller = select.poll()
            poller.register(self.listener, select.POLLIN)
            poller.register(self._wake[0], select.POLLIN)
            while True:
                events = poller.poll()
                if any(fd == self._wake[0] for fd, _ in events):
                    return
                masks = [mask for fd, mask in events if fd == self.listener]
                if masks and masks[0] & select.POLLIN:
                    self._start(launch)
                    return
                if masks and masks[0] & _GONE:
                    return  # every sandboxed process ended without a mediated call
        except BaseException as exc:  # no supervisor: the sandbox must not go on
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            self.failure = why or type(exc).__name__
            if launch.pid is not None:
                self._kill(launch.pid)
            os.write(
                2,
                f"nono: error: the supervisor could not start ({self.failure}); "
                "the sandboxed command was killed\n".encode(),
            )
        finally:
            self._watching.release()

    def _start(self, launch: Launch) -> None:
        """Build the grant table and the supervisor, and start serving (on the watch thread).

        ``threading`` may be imported here for the first time, off the main thread: Python
        then treats the main thread as a foreign one, which it supports (a process whose
        threads were started by C code is in the same position); nothing in ``nono run``'s
        parent asks ``threading`` which thread is the main one after this point.
        """
        from nonoc.runtime.supervisor.grants import GrantTable
        from nonoc.runtime.supervisor.supervisor import Supervisor

        # From what the child's own ruleset holds (after every hook's change: the proxy's
        # port), not a second walk of the host: the same table, at no cost.
        grants = GrantTable.from_record(self.plan_record, launch.payload, environ=launch.environ)
        answers = self.answers
        if answers is None and self.mediation.opens:
            from nonoc.runtime.supervisor.prompt import SandboxFreezer, TerminalPrompter

            assert launch.pid is not None
            freeze = SandboxFreezer(launch.pid).frozen
            answers = TerminalPrompter(timeout=self.prompt_timeout, freeze=freeze)
        if self.audit is not None:
            from nonoc.runtime.supervisor.record import AuditRecorder

            self.recorder = AuditRecorder(self.audit)
        supervisor = Supervisor(self.listener, grants, answers=answers, on_event=self._report)
        self.listener = -1  # the supervisor owns it now
        supervisor.start()
        self.supervisor = supervisor

    def _report(self, event: Event) -> None:
        if self.recorder is not None:
            self.recorder(event)
        if self.on_event is not None:
            self.on_event(event)

    def after_exit(self, launch: Launch, exit_code: int) -> None:
        """Stop watching or serving (the sandbox is gone) and release what is left."""
        self._close_channel("child_channel")
        self._close_channel("_parent_channel")
        if self._watching is not None:
            os.write(self._wake[1], b"\0")
            self._watching.acquire()  # the watch thread has returned
            self._watching.release()
            self._watching = None
        for fd in self._wake:
            if fd >= 0:
                os.close(fd)
        self._wake = (-1, -1)
        if self.listener >= 0:
            os.close(self.listener)
            self.listener = -1
        if self.supervisor is not None:
            self.supervisor.wait(2.0)
            self.supervisor.stop()
            if self.recorder is not None:
                self.recorder.close(self.supervisor.granted)

    def _close_channel(self, name: str) -> None:
        for fd in getattr(self, name):
            if fd >= 0:
                os.close(fd)
        setattr(self, name, (-1, -1))

    @staticmethod
    def _kill(pid: int) -> None:
        try:
            os.kill(pid, _SIGKILL)
        except ProcessLookupError:
            pass


def plan_record(plan: Plan) -> bytes:
    """What the child's Landlock ruleset grants, for ``GrantTable.from_record`` in the parent.

    NUL-separated lines: the handled filesystem rights, TCP rights and scopes (each
    space-separated); then ``d RIGHTS PATH`` or ``f RIGHTS PATH`` per grant (a tree or one
    file, rights comma-separated), ``x PATH`` per denied real path, ``p PORT RIGHTS`` per TCP
    rule. Made in the sandboxed child, before ``execve``, by string operations only: the
    agent has not run yet, so the parent can trust it as its own.
    """
    report = plan.report
    lines = [" ".join(report.handled_fs), " ".join(report.handled_net), " ".join(report.scopes)]
    for grant in plan.grants:
        lines.append(("d " if grant.is_dir else "f ") + ",".join(grant.access) + " " + grant.path)
    for deny in plan.denies:
        lines.extend("x " + path for path in deny.paths)
    for port in plan.ports:
        lines.append("p " + str(port.port) + " " + ",".join(port.access))
    return "\0".join(lines).encode("utf-8", "surrogateescape")
