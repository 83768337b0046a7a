"""What the supervisor answers a parked call, and the record it leaves of every decision.

A :class:`Verdict` is the answer sent to the kernel: continue (Landlock decides), fail with
an errno, return a value (the supervisor did the work), or inject a descriptor. An
:class:`Event` is what the audit trail gets for the same decision: the call, the path or
address it concerned, the outcome and the reason in a fixed vocabulary (see ``REASONS``).

Plain classes with slots, not dataclasses: the supervisor is built at the first mediated
call of a ``nono run``, which waits for it, and ``dataclasses`` and ``typing`` alone cost
that call tens of milliseconds to import.
"""

from __future__ import annotations

import errno as errno_module

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Literal

    VerdictKind = Literal["continue", "fail", "return", "inject", "dropped"]


class Verdict:
    """The answer to one notification (never changed once made)."""

    __slots__ = ("cloexec", "error", "fd", "kind", "value")

    def __init__(
        self,
        kind: VerdictKind,
        error: int = 0,
        value: int = 0,
        fd: int = -1,
        cloexec: bool = False,
    ) -> None:
        self.kind, self.error, self.value, self.fd, self.cloexec = kind, error, value, fd, cloexec

    def _key(self) -> tuple[str, int, int, int, bool]:
        return (self.kind, self.error, self.value, self.fd, self.cloexec)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Verdict) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return "Verdict(kind={!r}, error={!r}, value={!r}, fd={!r}, cloexec={!r})".format(
            *self._key()
        )


CONTINUE = Verdict("continue")
#: The notification went stale (the thread left the call); nothing can be answered.
DROPPED = Verdict("dropped")


def fail(error: int) -> Verdict:
    """Make the call fail with ``error``."""
    return Verdict("fail", error=error)


def returns(value: int) -> Verdict:
    """Make the call return ``value``."""
    return Verdict("return", value=value)


def inject(fd: int, *, cloexec: bool) -> Verdict:
    """Install ``fd`` (which the supervisor then closes) and return its number in the process."""
    return Verdict("inject", fd=fd, cloexec=cloexec)


#: Why a decision was taken. ``granted``: inside the initial grants (Landlock decides);
#: ``never_grantable``: a denied path or nono's own state, refused without asking;
#: ``approved`` / ``refused``: the answer source said so; ``remembered``: an earlier
#: answer for the session; ``timeout``: nobody answered in time; ``rate_limited``: too
#: many questions; ``no_answers``: nothing to ask; ``unsupported``: not a regular file or
#: directory, or on procfs; ``walk_error``: the path does not resolve (the errno says why);
#: ``socket_granted`` / ``socket_not_granted`` / ``abstract_scoped`` / ``not_unix``: unix
#: socket mediation (``no_address``: nothing to resolve; ``abstract``: an abstract name the
#: policy leaves open; ``sandbox_socket``: a socket the sandbox bound itself, recorded at
#: its ``bind`` and reachable from inside); ``writable`` / ``not_writable`` / ``not_a_path``: metadata mediation;
#: ``bad_arguments``: unreadable memory, over-long path; ``internal_error``: a supervisor bug
#: (answered with EPERM: closed, not open).
REASONS = frozenset(
    {
        "granted",
        "never_grantable",
        "approved",
        "refused",
        "remembered",
        "timeout",
        "rate_limited",
        "no_answers",
        "unsupported",
        "walk_error",
        "socket_granted",
        "socket_not_granted",
        "abstract_scoped",
        "not_unix",
        "writable",
        "not_writable",
        "not_a_path",
        "bad_arguments",
        "internal_error",
        "no_address",
        "abstract",
        "sandbox_socket",
    }
)


class Event:
    """One decision, for the audit trail (``supervisor_decision`` records)."""

    __slots__ = ("access", "decision", "detail", "error", "path", "pid", "reason", "syscall")

    def __init__(
        self,
        syscall: str,
        pid: int,
        decision: Literal["continue", "allow", "deny"],
        reason: str,
        path: str | None = None,
        access: str | None = None,
        error: int | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        self.syscall, self.pid, self.decision, self.reason = syscall, pid, decision, reason
        self.path, self.access, self.error = path, access, error
        self.detail: dict[str, Any] = {} if detail is None else detail

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Event) and all(
            getattr(self, name) == getattr(other, name) for name in self.__slots__
        )

    __hash__ = None  # type: ignore[assignment]  # ``detail`` changes (dropped, fd)

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in _EVENT_ORDER)
        return f"Event({fields})"

    def fields(self) -> dict[str, Any]:
        """The record's fields: only what is set, errno by name."""
        out: dict[str, Any] = {
            "syscall": self.syscall,
            "pid": self.pid,
            "decision": self.decision,
            "reason": self.reason,
        }
        if self.path is not None:
            out["path"] = self.path
        if self.access is not None:
            out["access"] = self.access
        if self.error:
            out["errno"] = errno_module.errorcode.get(self.error, str(self.error))
        out.update(self.detail)
        return out


_EVENT_ORDER = ("syscall", "pid", "decision", "reason", "path", "access", "error", "detail")


class Job:
    """Work a handler defers to a pool thread (a call the supervisor performs may block).

    ``restricted``: run it on a thread carrying the sandbox's TCP rules (see ``netrules``).
    ``cleanup`` runs after, whatever happened (closes the descriptors the job used).
    """

    __slots__ = ("cleanup", "restricted", "run")

    def __init__(
        self,
        run: Callable[[], tuple[Verdict, Event]],
        restricted: bool = False,
        cleanup: Callable[[], None] | None = None,
    ) -> None:
        self.run, self.restricted, self.cleanup = run, restricted, cleanup
