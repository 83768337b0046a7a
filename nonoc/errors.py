"""Diagnostics shared by every part of nono: one-line messages with a position.

Every error the user can cause is reported as ``file:line:col: error: message``,
followed (when the source is known) by the offending line and a caret. The CLI
prints the diagnostic and exits non-zero; no traceback reaches the user.
Standard library only: the launcher raises these too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from collections.abc import Iterable

Severity = Literal["error", "warning", "note"]


@dataclass(frozen=True)
class Span:
    """A position in a source file: 1-based line and column, optional end column."""

    file: str
    line: int = 0
    column: int = 0
    end_column: int | None = None
    source_line: str | None = None

    def location(self) -> str:
        """``file:line:col`` (or less, when line or column are unknown)."""
        if self.line <= 0:
            return self.file
        if self.column <= 0:
            return f"{self.file}:{self.line}"
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Diagnostic:
    """One message about the user's input.

    ``code`` is a stable name for the kind of problem (``assertion-failed``…), for tools to
    act on instead of the wording. ``related`` are other positions the message names (the
    grant an assertion trips on), so a tool need not find them in the text.
    """

    severity: Severity
    message: str
    span: Span | None = None
    notes: tuple[str, ...] = field(default=())
    code: str | None = None
    related: tuple[Span, ...] = field(default=())

    def headline(self) -> str:
        """The single line: ``file:line:col: severity: message``."""
        prefix = f"{self.span.location()}: " if self.span else ""
        return f"{prefix}{self.severity}: {self.message}"

    def render(self) -> str:
        """Headline, then the source line with a caret, then any notes; then each related
        position as a note of its own (``file:line:col: note: …``, with its line and caret)."""
        lines = [self.headline(), *_caret(self.span)]
        lines.extend(f"  note: {note}" for note in self.notes)
        for span in self.related:
            lines.append(f"{span.location()}: note: the rule the {self.severity} above names")
            lines.extend(_caret(span))
        return "\n".join(lines)


def _caret(span: Span | None) -> list[str]:
    """The source line of ``span`` and a caret under it (nothing when the line is unknown)."""
    if span is None or span.source_line is None or span.column <= 0:
        return []
    text = span.source_line.rstrip("\n").expandtabs(1)
    width = 1
    if span.end_column and span.end_column > span.column:
        width = span.end_column - span.column
    return [f"    {text}", "    " + " " * (span.column - 1) + "^" + "~" * (width - 1)]


class NonoError(Exception):
    """An error in the user's input or environment, reported without a traceback.

    ``exit_code`` follows the CLI contract: 1 for nono's own errors, 2 for usage
    errors, 126 when the sandbox cannot be applied.
    """

    def __init__(
        self,
        message: str,
        span: Span | None = None,
        *,
        notes: tuple[str, ...] = (),
        exit_code: int = 1,
        code: str | None = None,
        related: tuple[Span, ...] = (),
    ) -> None:
        super().__init__(message)
        self.diagnostic = Diagnostic("error", message, span, notes, code, related)
        self.exit_code = exit_code

    def render(self) -> str:
        """The diagnostic as the user sees it."""
        return self.diagnostic.render()


class UsageError(NonoError):
    """Wrong command-line usage: exit code 2."""

    def __init__(self, message: str, *, notes: tuple[str, ...] = ()) -> None:
        super().__init__(message, None, notes=notes, exit_code=2)


class SandboxError(NonoError):
    """The sandbox could not be applied (kernel too old, path missing…): exit code 126."""

    def __init__(
        self, message: str, span: Span | None = None, *, notes: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message, span, notes=notes, exit_code=126)


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """A ``(did you mean 'x'?)`` suffix for the closest candidate, or an empty string."""
    import difflib

    close = difflib.get_close_matches(name, sorted(candidates), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
