"""The parent's session options of ``nono run``: rollback, audit, trust, the supervisor.

The flags (``nonoc.runtime.flags``, kept in ``RunRequest.session``) become one
``SessionOptions``; contradictions are usage errors:

- ``--rollback`` / ``--no-rollback``: snapshots on or off; without either, the profile's
  ``rollback on|off`` decides (off when it says nothing);
- ``--rollback-include DIR|PATTERN`` and ``--rollback-exclude PATTERN`` (repeatable);
  either with ``--no-rollback`` is a contradiction;
- ``--no-audit``: no audit trail (it is on by default); ``--audit-sign`` signs the
  session's final hash with the bundle signing key, and contradicts ``--no-audit``;
- ``--trust-policy FILE``: the trust policy for instruction files, instead of the user's;
- ``--supervised``: opens outside the grants are asked about (the supervisor runs on every
  run for unix sockets and metadata; this adds the question); ``--answers FILE`` answers
  from a rules file instead of the terminal, and goes with ``--supervised``.

Standard library only: a cached ``nono run`` parses these on every start.
"""

from __future__ import annotations

from nonoc.runtime.flags import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from nonoc.runtime.flags import RunRequest


_VALUED = ("--rollback-include", "--rollback-exclude", "--trust-policy", "--answers")


class SessionOptions:
    """What the parent does around the child, from the flags and the payload."""

    __slots__ = (
        "answers",
        "audit",
        "audit_sign",
        "rollback",
        "rollback_exclude",
        "rollback_include",
        "supervised",
        "trust_policy",
    )

    def __init__(
        self,
        *,
        rollback: bool | None = None,
        rollback_include: tuple[str, ...] = (),
        rollback_exclude: tuple[str, ...] = (),
        audit: bool = True,
        audit_sign: bool = False,
        trust_policy: str | None = None,
        supervised: bool = False,
        answers: str | None = None,
    ) -> None:
        #: True/False from a flag; None: the profile decides (``rollback_wanted``).
        self.rollback = rollback
        self.rollback_include, self.rollback_exclude = rollback_include, rollback_exclude
        self.audit, self.audit_sign = audit, audit_sign
        self.trust_policy = trust_policy
        #: ``--supervised``: ask before an open outside the grants; ``--answers FILE``.
        self.supervised, self.answers = supervised, answers

    def rollback_wanted(self, payload: Mapping[str, Any]) -> bool:
        """Whether to snapshot: the flag, else the profile's ``rollback`` setting."""
        if self.rollback is not None:
            return self.rollback
        return bool(launch_section(payload).get("rollback"))

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"SessionOptions({fields})"


def session_options(request: RunRequest) -> SessionOptions:
    """The ``SessionOptions`` of ``request``; ``UsageError`` for contradicting flags."""
    given = request.session
    options = {option for option, _ in given}
    for first, second in (("--rollback", "--no-rollback"), ("--no-audit", "--audit-sign")):
        if {first, second} <= options:
            raise UsageError(f"{first} and {second} contradict each other; choose one")
    if "--no-rollback" in options:
        for option in ("--rollback-include", "--rollback-exclude"):
            if option in options:
                raise UsageError(f"{option} has no effect with --no-rollback; choose one")
    policies = list(dict.fromkeys(value for option, value in given if option == "--trust-policy"))
    if len(policies) > 1:
        raise UsageError(f"--trust-policy given twice ({policies[0]}, {policies[1]}); choose one")
    for option, value in given:
        if option in _VALUED and not value.strip():
            raise UsageError(f"{option} needs a value")
    answers = list(dict.fromkeys(value for option, value in given if option == "--answers"))
    if len(answers) > 1:
        raise UsageError(f"--answers given twice ({answers[0]}, {answers[1]}); choose one")
    if answers and "--supervised" not in options:
        raise UsageError("--answers goes with --supervised (it answers the supervisor's questions)")
    return SessionOptions(
        rollback=True if "--rollback" in options else False if "--no-rollback" in options else None,
        rollback_include=tuple(v for o, v in given if o == "--rollback-include"),
        rollback_exclude=tuple(v for o, v in given if o == "--rollback-exclude"),
        audit="--no-audit" not in options,
        audit_sign="--audit-sign" in options,
        trust_policy=policies[0] if policies else None,
        supervised="--supervised" in options,
        answers=answers[0] if answers else None,
    )


def launch_section(payload: Mapping[str, Any]) -> Mapping[str, Any]:
    """The payload's ``launch`` settings for this machine's target (empty when absent)."""
    import sys

    section = payload.get("macos" if sys.platform == "darwin" else "linux")
    launch = section.get("launch") if isinstance(section, dict) else None
    return launch if isinstance(launch, dict) else {}
