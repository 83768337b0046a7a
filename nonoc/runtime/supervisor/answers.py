"""Who answers the supervisor's questions: the terminal, a callback, or an answers file.

A :class:`Question` names a real path (symlinks already resolved by the supervisor), the
access asked for and the process asking. An answer source returns an :class:`Answer`;
``remember`` keeps it for the rest of the session. The terminal prompter lives in
:mod:`nonoc.runtime.supervisor.prompt`; the sources here need no terminal, for tests and CI.

The answers file, one rule a line, first match wins, no match means no::

    # comments and blank lines are ignored
    allow read  /srv/datasets/**        # ** crosses directories, * and ? stay in one
    allow write /tmp/agent-out/*
    deny  any   /etc/**

``read`` matches a read, ``write`` a write (a read-write open needs a rule matching
``write`` and one matching ``read``, or an ``any`` rule), ``any`` both.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # the supervisor imports this module at its first call: no typing, re, pathlib
    import re
    from collections.abc import Callable
    from pathlib import Path
    from typing import Protocol


class Question:
    """Should the process ``pid`` (``command``) get ``access`` to ``path``?

    ``path`` is the real path the supervisor would open; ``requested`` is what the process
    wrote (they differ when symlinks or a relative path were involved).
    """

    __slots__ = ("access", "command", "path", "pid", "requested", "syscall")

    def __init__(
        self,
        pid: int,
        command: str,
        syscall: str,
        path: str,
        requested: str,
        access: frozenset[str],
    ) -> None:
        self.pid, self.command, self.syscall = pid, command, syscall
        self.path, self.requested, self.access = path, requested, access

    def _key(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in _QUESTION_ORDER)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Question) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        fields = ", ".join(f"{n}={getattr(self, n)!r}" for n in _QUESTION_ORDER)
        return f"Question({fields})"

    @property
    def access_text(self) -> str:
        """``read``, ``write`` or ``read+write``."""
        return "+".join(a for a in ("read", "write") if a in self.access) or "open"


_QUESTION_ORDER = ("pid", "command", "syscall", "path", "requested", "access")


class Answer:
    """Yes or no, and whether to keep that answer for the session."""

    __slots__ = ("allow", "reason", "remember")

    def __init__(self, allow: bool, remember: bool = False, reason: str = "") -> None:
        self.allow, self.remember = allow, remember
        #: ``approved``/``refused``, or ``timeout`` when nobody answered in time.
        self.reason = reason

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Answer) and (self.allow, self.remember, self.reason) == (
            other.allow,
            other.remember,
            other.reason,
        )

    def __hash__(self) -> int:
        return hash((self.allow, self.remember, self.reason))

    def __repr__(self) -> str:
        return f"Answer(allow={self.allow!r}, remember={self.remember!r}, reason={self.reason!r})"

    @property
    def why(self) -> str:
        """The audit reason."""
        return self.reason or ("approved" if self.allow else "refused")


YES, NO = Answer(True), Answer(False)


if TYPE_CHECKING:

    class AnswerSource(Protocol):
        """Anything that can answer a question (may block; the supervisor asks one at a time)."""

        def ask(self, question: Question) -> Answer:
            """Answer ``question``."""
            ...

else:

    class AnswerSource:
        """Anything with ``ask(question) -> Answer`` (a ``typing.Protocol`` for type checkers)."""


class CallbackAnswers:
    """Answers from a function returning an :class:`Answer` or a bool."""

    def __init__(self, callback: Callable[[Question], Answer | bool]) -> None:
        self.callback = callback
        #: Every question asked, in order (tests read it to prove a prompt was or was not shown).
        self.asked: list[Question] = []

    def ask(self, question: Question) -> Answer:
        """Call the function; a bool is a one-time answer."""
        self.asked.append(question)
        result = self.callback(question)
        return result if isinstance(result, Answer) else (YES if result else NO)


class _Rule:
    __slots__ = ("access", "allow", "pattern", "text")

    def __init__(self, allow: bool, access: str, pattern: re.Pattern[str], text: str) -> None:
        self.allow, self.access, self.pattern, self.text = allow, access, pattern, text


def glob_pattern(glob: str) -> re.Pattern[str]:
    """``**`` any run of characters, ``*`` any run without ``/``, ``?`` one non-``/`` character."""
    import re

    out = []
    i = 0
    while i < len(glob):
        if glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif glob[i] == "*":
            out.append("[^/]*")
            i += 1
        elif glob[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(glob[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


class FileAnswers:
    """Answers from an answers file (see the module docstring); a malformed line is an error."""

    def __init__(self, rules: list[_Rule]) -> None:
        self.rules = rules

    @classmethod
    def load(cls, path: str | Path) -> FileAnswers:
        """Read and check ``path``; raise ``NonoError`` at the first bad line."""
        source = str(path)
        try:
            with open(source, encoding="utf-8") as handle:
                text = handle.read()
        except OSError as exc:
            from nonoc.errors import NonoError

            raise NonoError(f"cannot read answers file {source}: {exc.strerror}") from None
        return cls.parse(text, source)

    @classmethod
    def parse(cls, text: str, filename: str = "<answers>") -> FileAnswers:
        """Parse answers-file text; errors carry ``filename:line:col``."""
        from nonoc.errors import NonoError, Span

        rules = []
        for number, line in enumerate(text.splitlines(), start=1):
            body = line.split("#", 1)[0].strip()
            if not body:
                continue
            words = body.split()
            column = line.find(words[0]) + 1
            if len(words) != 3:
                raise NonoError(
                    "expected 'allow|deny read|write|any PATH-GLOB'",
                    Span(filename, number, column, source_line=line),
                )
            verb, access, glob = words
            if verb not in ("allow", "deny"):
                raise NonoError(
                    f"expected allow or deny, not '{verb}'",
                    Span(filename, number, column, source_line=line),
                )
            if access not in ("read", "write", "any"):
                where = line.find(access, column) + 1
                raise NonoError(
                    f"expected read, write or any, not '{access}'",
                    Span(filename, number, where, source_line=line),
                )
            if not glob.startswith("/"):
                where = line.find(glob, column) + 1
                raise NonoError(
                    f"the path glob must be absolute: '{glob}'",
                    Span(filename, number, where, source_line=line),
                )
            rules.append(_Rule(verb == "allow", access, glob_pattern(glob), body))
        return cls(rules)

    def _decide(self, path: str, access: str) -> bool:
        for rule in self.rules:
            if rule.access in (access, "any") and rule.pattern.match(path):
                return rule.allow
        return False

    def ask(self, question: Question) -> Answer:
        """Allow only when every access asked for is allowed by the first rule matching it."""
        wanted = question.access or frozenset({"read"})
        allowed = all(self._decide(question.path, access) for access in sorted(wanted))
        return Answer(allowed)
