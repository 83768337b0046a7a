"""The supervisor: one loop that takes parked calls from the listener and answers each.

Threads. The *loop* thread receives every notification, reads what it needs from the
process, checks the notification is still valid, and answers the quick cases itself
(continue inside the grants, EPERM for never-grantable paths, metadata and socket
decisions). Questions go to one *asking* thread, so prompts come one at a time and a
pending prompt never holds up the rest of the sandbox. Socket calls the supervisor
performs itself (a connect may block) run on a small pool. A parked thread waits until
its answer comes; nothing is answered twice, and a notification that went stale (the
thread was killed, or interrupted by a signal) is dropped without harm.

Every decision becomes an :class:`~nonoc.runtime.supervisor.verdict.Event` passed to the
``on_event`` callback. An exception anywhere in a handler answers EPERM (closed, not open)
and is reported as ``internal_error``: the loop never dies of one call.
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # the C module: ``signal`` builds enums
import errno
import os
import sys
import threading

from nonoc.runtime.supervisor import handoff, opens
from nonoc.runtime.supervisor.asking import QuestionDesk, requested
from nonoc.runtime.supervisor.memo import DecisionMemory, RateLimit
from nonoc.runtime.supervisor.netrules import NetRules, restrict_thread
from nonoc.runtime.supervisor.notif import AUDIT_ARCH, Listener, Notification
from nonoc.runtime.supervisor.pool import WorkerPool
from nonoc.runtime.supervisor.syscalls import OPEN_CALLS, syscall_names
from nonoc.runtime.supervisor.verdict import CONTINUE, DROPPED, Event, Job, Verdict, fail

TYPE_CHECKING = False
if TYPE_CHECKING:  # built at a run's first mediated call, which waits: no typing at run time
    from collections.abc import Callable

    from nonoc.runtime.supervisor.answers import AnswerSource
    from nonoc.runtime.supervisor.grants import GrantTable


class Supervisor:
    """Serve one sandbox's listener until every sandboxed process has exited (or :meth:`stop`)."""

    def __init__(
        self,
        listener: Listener | int,
        grants: GrantTable,
        *,
        answers: AnswerSource | None = None,
        on_event: Callable[[Event], None] | None = None,
        rate: RateLimit | None = None,
        memory: DecisionMemory | None = None,
        workers: int = 8,
        report_granted: bool = False,
    ) -> None:
        self.listener = listener if isinstance(listener, Listener) else Listener(listener)
        self.grants = grants
        self.on_event = on_event
        #: Report each continue inside the grants as an event (else only counted, in
        #: ``granted``: there are hundreds a second, and Landlock took those decisions).
        self.report_granted = report_granted
        #: Continues inside the grants, by system call.
        self.granted: dict[str, int] = {}
        self.names = syscall_names()
        self.arch = AUDIT_ARCH.get(_arch())
        self.opens = opens.OpenMediator(grants)
        from nonoc.runtime.supervisor.metadata import MetadataMediator
        from nonoc.runtime.supervisor.sockets import SocketMediator

        self.sockets = SocketMediator(grants)
        self.metadata = MetadataMediator(grants)
        self.desk = QuestionDesk(self, answers, memory or DecisionMemory(), rate or RateLimit())
        self._pool = WorkerPool(
            workers, "nono-supervisor-io", initializer=_quiet, reject=self._reject_job
        )
        # Inet calls the supervisor makes for the agent carry the agent's TCP rules.
        self._net_pool = (
            WorkerPool(
                workers,
                "nono-supervisor-net",
                initializer=_restricted,
                initargs=(grants.net,),
                reject=self._reject_job,
            )
            if grants.net.restrictive
            else self._pool
        )
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._event_errors = 0
        self._served = False
        #: Counters by outcome, for the benchmark and ``nono run -v``.
        self.counts: dict[str, int] = {}
        self._counts_lock = threading.Lock()
        self.listener.sync_wake_up()

    # ----------------------------------------------------------------- running

    def start(self) -> None:
        """Run the loop and the asking thread in the background (daemon threads)."""
        for target, name in (
            (self.serve, "nono-supervisor"),
            (self.desk.serve, "nono-supervisor-ask"),
        ):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the loop, close the listener (parked calls then fail with ENOSYS), join threads."""
        self._stop.set()
        self.desk.wake()
        for thread in self._threads:
            thread.join(timeout)
        self._pool.shutdown()
        self._net_pool.shutdown()
        handoff.forget_pidfds()
        self.listener.close()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the loop to end (the sandbox exited); True if it did."""
        if not self._threads:
            return True
        self._threads[0].join(timeout)
        return not self._threads[0].is_alive()

    def serve(self) -> None:
        """The loop: until the listener reports no user is left, or :meth:`stop`."""
        try:
            while not self._stop.is_set():
                state = self.listener.wait(200)
                if state == "gone":
                    break
                if state != "ready":
                    continue
                try:
                    notification = self.listener.receive()
                except OSError:
                    if self._stop.is_set() or self.listener.fd < 0:
                        break
                    raise
                if notification is not None:
                    self.handle(notification)
        finally:
            self._served = True
            self.desk.wake()

    # ----------------------------------------------------------------- dispatch

    def handle(self, notification: Notification) -> None:
        """Decide one notification and answer it (or hand it to the asking thread or the pool)."""
        name = self.names.get(notification.nr, f"syscall_{notification.nr}")
        try:
            if notification.arch != self.arch:
                # The filter kills foreign architectures; this can only be a filter of another's.
                self.answer(
                    notification,
                    fail(errno.ENOSYS),
                    Event(name, notification.pid, "deny", "bad_arguments"),
                )
                return
            if name in OPEN_CALLS:
                self._open(notification, name)
                return
            outcome = self._route(notification, name)
            if isinstance(outcome, Job):
                pool = self._net_pool if outcome.restricted else self._pool
                pool.submit(self._run_job, notification, name, outcome)
                return
            verdict, event = outcome
            self.answer(notification, verdict, event)
        except Exception as exc:  # one bad call must never take the supervisor down
            self.internal_error(notification, name, exc)

    def _route(self, notification: Notification, name: str) -> tuple[Verdict, Event] | Job:
        if self.sockets.handles(name):
            return self.sockets.handle(self.listener, notification, name)
        if self.metadata.handles(name):
            return self.metadata.handle(self.listener, notification, name)
        # A call the filter notifies but nobody mediates: the kernel decides.
        return CONTINUE, Event(name, notification.pid, "continue", "granted")

    def _run_job(self, notification: Notification, name: str, job: Job) -> None:
        try:
            verdict, event = job.run()
            self.answer(notification, verdict, event)
        except Exception as exc:
            self.internal_error(notification, name, exc)
        finally:
            if job.cleanup is not None:
                job.cleanup()

    def _reject_job(
        self, function: object, notification: Notification, name: str, job: Job
    ) -> None:
        """A job its pool could not run (a worker that could not restrict itself): EPERM."""
        try:
            self.internal_error(notification, name, RuntimeError("no worker could take the call"))
        finally:
            if job.cleanup is not None:
                job.cleanup()

    def internal_error(self, notification: Notification, name: str, exc: BaseException) -> None:
        """Answer EPERM to a call whose handling failed, and report ``internal_error``."""
        detail = {"error_text": f"{type(exc).__name__}: {exc}"}
        try:
            self.answer(
                notification,
                fail(errno.EPERM),
                Event(name, notification.pid, "deny", "internal_error", detail=detail),
            )
        except Exception:
            pass

    # ----------------------------------------------------------------- opens

    def _open(self, notification: Notification, name: str) -> None:
        pid = notification.pid
        try:
            call = opens.decode(notification, name)
            absolute = (
                call.path if _plain(call.path) else opens.lexical_path(pid, call.dirfd, call.path)
            )
        except OSError as exc:
            self.answer(
                notification,
                fail(exc.errno or errno.EFAULT),
                Event(name, pid, "deny", "bad_arguments", error=exc.errno),
            )
            return
        access = opens.needs(call.flags).text
        # No ID_VALID check yet: a quick answer has no side effect, and SEND itself refuses
        # a notification that went stale (so nothing read from a recycled pid is acted on).
        quick = self.opens.fast(call, absolute)
        if quick == "granted":
            self._continue_granted(notification, name, absolute or call.path, access)
            return
        if quick == "never_grantable":
            self.answer(
                notification,
                fail(errno.EPERM),
                Event(name, pid, "deny", "never_grantable", absolute, access, errno.EPERM),
            )
            return
        try:
            target = self.opens.resolve(notification, call)
        except OSError as exc:
            code = exc.errno or errno.EPERM
            reason = "unsupported" if code == errno.EPERM else "walk_error"
            self.answer(
                notification, fail(code), Event(name, pid, "deny", reason, call.path, access, code)
            )
            return
        keep = False
        try:
            # The walk acted on what was read: only valid if the thread is still parked now.
            if not self.listener.is_valid(notification.id):
                self.count("dropped")
                return
            reason, code = self.opens.judge(call, target)
            event = Event(
                name,
                pid,
                "deny",
                reason,
                target.path,
                access,
                code,
                detail=requested(call, target),
            )
            if reason == "granted":
                self.answer(
                    notification,
                    CONTINUE,
                    Event(name, pid, "continue", "granted", target.path, access),
                )
            elif reason != "ask":
                self.answer(notification, fail(code), event)
            else:
                keep = self.desk.take(notification, call, target, access)
        finally:
            if not keep:
                target.close()

    # ----------------------------------------------------------------- answering

    def _continue_granted(
        self, notification: Notification, name: str, path: str, access: str
    ) -> None:
        """The commonest answer, kept cheap: continue, count, and report only if asked to."""
        delivered = self.listener.allow_continue(notification.id)
        self.count("granted" if delivered else "dropped")
        if delivered:
            with self._counts_lock:
                self.granted[name] = self.granted.get(name, 0) + 1
            if self.report_granted:
                self._emit(Event(name, notification.pid, "continue", "granted", path, access))

    def answer(self, notification: Notification, verdict: Verdict, event: Event) -> None:
        """Send ``verdict``; report ``event`` (as dropped when the thread had already left)."""
        delivered = True
        if verdict.kind == "continue":
            delivered = self.listener.allow_continue(notification.id)
        elif verdict.kind == "fail":
            delivered = self.listener.fail(notification.id, verdict.error)
        elif verdict.kind == "return":
            delivered = self.listener.succeed(notification.id, verdict.value)
        elif verdict.kind == "inject":
            try:
                number = self.listener.inject(notification.id, verdict.fd, cloexec=verdict.cloexec)
            finally:
                os.close(verdict.fd)
            delivered = number is not None
            if delivered:
                event.detail["fd"] = number
        elif verdict is DROPPED:
            delivered = False
        self.count(event.reason if delivered else "dropped")
        if not delivered:
            event.detail["dropped"] = True
        self._emit(event)

    def _emit(self, event: Event) -> None:
        if self.on_event is None:
            return
        try:
            self.on_event(event)
        except Exception as exc:  # an audit failure is reported, never allowed to stop answers
            self._event_errors += 1
            if self._event_errors == 1:
                sys.stderr.write(f"nono: supervisor: cannot record a decision: {exc}\n")

    @property
    def stopping(self) -> bool:
        """Whether the supervisor was stopped or its loop has ended (the sandbox is gone)."""
        return self._stop.is_set() or self._served

    def count(self, key: str) -> None:
        """Count one outcome (thread-safe)."""
        with self._counts_lock:  # the loop, the asking thread and the pool all count
            self.counts[key] = self.counts.get(key, 0) + 1


def _plain(path: str) -> bool:
    """An absolute path already in normal form (the common case: no join, no clean-up)."""
    return (
        path.startswith("/")
        and "/." not in path
        and "//" not in path
        and (path == "/" or not path.endswith("/"))
    )


def _arch() -> str:
    from nonoc.launch.seccomp import native_arch

    return native_arch()


def _quiet() -> None:
    """Pool thread initializer: signals go to the main thread, never interrupt a call made here."""
    _signal.pthread_sigmask(_signal.SIG_BLOCK, _signal.valid_signals())


def _restricted(rules: NetRules) -> None:
    """Pool thread initializer: block signals, then apply the sandbox's TCP rules to this thread."""
    _quiet()
    restrict_thread(rules)
