"""The question desk: opens outside the grants that someone must answer, one at a time.

The loop hands over an open it walked and judged "ask" (:meth:`QuestionDesk.take`). The
desk first answers what needs nobody: a remembered answer, a refusal repeated within its
window, no answer source at all, too many questions lately. Anything else waits in a queue
for the desk's own thread, which asks the answer source (the terminal may take seconds:
the loop keeps serving meanwhile), then on yes opens the inode the walk found and injects
it (:meth:`nonoc.runtime.supervisor.opens.OpenMediator.open_for`), on no fails with EPERM.
Before asking and before opening, the notification is checked again: a process that gave
up (killed, interrupted) is neither asked about nor given anything.
"""

from __future__ import annotations

import errno
import os
import queue

from nonoc.runtime.supervisor import opens
from nonoc.runtime.supervisor.answers import AnswerSource, Question
from nonoc.runtime.supervisor.memo import DecisionMemory, RateLimit
from nonoc.runtime.supervisor.notif import Notification
from nonoc.runtime.supervisor.verdict import Event, fail, inject

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from nonoc.runtime.supervisor.supervisor import Supervisor


def requested(call: opens.OpenCall, target: Any) -> dict[str, Any]:
    """The path as the process wrote it, when it differs from the real path."""
    return {"requested": call.path} if call.path != getattr(target, "path", None) else {}


class QuestionDesk:
    """Questions for one supervisor (see the module docstring)."""

    def __init__(
        self,
        owner: Supervisor,
        answers: AnswerSource | None,
        memory: DecisionMemory,
        rate: RateLimit,
    ) -> None:
        self.owner = owner
        self.answers = answers
        self.memory = memory
        self.rate = rate
        self._queue: queue.Queue[opens.Pending | None] = queue.Queue()

    def take(
        self, notification: Notification, call: opens.OpenCall, target: Any, access: str
    ) -> bool:
        """Answer now if nobody need be asked, else queue; True when ``target`` was queued."""
        key = (target.path, call.access)
        recalled = self.memory.recall(key)
        if recalled is True:
            self.grant(opens.Pending(notification, call, target, target.path), "remembered")
            return False
        if recalled is False:
            reason = "remembered"
        elif self.answers is None:
            reason = "no_answers"
        elif not self.rate.take():
            reason = "rate_limited"
        else:
            self._queue.put(opens.Pending(notification, call, target, target.path))
            return True
        self._refuse(notification, call, target.path, access, reason, requested(call, target))
        return False

    def wake(self) -> None:
        """Let the desk's thread look at whether it should stop."""
        self._queue.put(None)

    def serve(self) -> None:
        """The desk's thread: ask, answer, until the supervisor stops or its loop ended."""
        while True:
            pending = self._queue.get()
            if pending is None:
                if self.owner.stopping:
                    return
                continue
            try:
                self._ask(pending)
            except Exception as exc:  # one failed question must not stop the others
                self.owner.internal_error(pending.notification, pending.call.syscall, exc)
            finally:
                pending.close()

    def _ask(self, pending: opens.Pending) -> None:
        notification, call = pending.notification, pending.call
        if not self.owner.listener.is_valid(notification.id):
            self.owner.count("dropped")
            return  # the process gave up (killed, interrupted) while the question waited
        assert self.answers is not None
        command = opens.command_name(notification.pid)
        question = Question(
            notification.pid, command, call.syscall, pending.real_path, call.path, call.access
        )
        answer = self.answers.ask(question)
        self.memory.note((pending.real_path, call.access), answer.allow, remember=answer.remember)
        if answer.allow:
            self.grant(pending, answer.why)
        else:
            access = opens.needs(call.flags).text
            detail = requested(call, pending.target)
            self._refuse(notification, call, pending.real_path, access, answer.why, detail)

    def grant(self, pending: opens.Pending, reason: str) -> None:
        """Open what was approved and inject it; a failure to open is the call's errno."""
        notification, call = pending.notification, pending.call
        access = opens.needs(call.flags).text
        detail = requested(call, pending.target)
        if not self.owner.listener.is_valid(notification.id):
            self.owner.count("dropped")
            return
        pid, path = notification.pid, pending.real_path
        try:
            fd = self.owner.opens.open_for(pending)
        except OSError as exc:
            code = exc.errno or errno.EPERM
            event = Event(call.syscall, pid, "deny", "walk_error", path, access, code, detail)
            self.owner.answer(notification, fail(code), event)
            return
        verdict = inject(fd, cloexec=bool(call.flags & os.O_CLOEXEC))
        event = Event(call.syscall, pid, "allow", reason, path, access, detail=detail)
        self.owner.answer(notification, verdict, event)

    def _refuse(
        self,
        notification: Notification,
        call: opens.OpenCall,
        path: str,
        access: str,
        reason: str,
        detail: dict[str, Any],
    ) -> None:
        event = Event(
            call.syscall, notification.pid, "deny", reason, path, access, errno.EPERM, detail
        )
        self.owner.answer(notification, fail(errno.EPERM), event)
