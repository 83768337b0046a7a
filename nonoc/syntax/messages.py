"""Syntax errors in plain words.

Lark reports what it expected as terminal names (``LBRACE``, ``STRING``, ``__ANON_0``).
A user wants "expected a quoted string" or "unknown statement 'raed' (did you mean
'read'?)". This module turns Lark's exceptions into ``NonoError`` diagnostics with a span
and a caret.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from lark import Lark
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.lexer import PatternStr

from nonoc.errors import NonoError, Span, did_you_mean

#: Named terminals in words.
_TERMINAL_WORDS = {
    "NAME": "a name",
    "STRING": "a quoted string",
    "INT": "a number",
    "COMPARE": "a comparison (==, !=, <, <=, >, >=)",
    "$END": "the end of the file",
}

#: Keywords that start a statement inside a body; when most are expected, say "a statement".
STATEMENT_KEYWORDS = frozenset(
    {
        "use", "read", "write", "readwrite", "allow", "exec", "require", "deny", "assert",
        "network", "port", "scope", "compat", "deny_inside_allow", "rollback", "protect",
        "env", "command", "unix_socket", "syscall", "on", "abi",
    }
)  # fmt: skip

#: Keywords that start a top-level item.
TOP_KEYWORDS = frozenset({"import", "abi", "group", "mandatory", "profile"})


def syntax_error(
    exc: UnexpectedInput, text: str, filename: str, lines: Sequence[str], parser: Lark
) -> NonoError:
    """The ``NonoError`` for one of Lark's parse exceptions."""
    words = _Words(parser)
    if isinstance(exc, UnexpectedCharacters):
        line, column = exc.line, exc.column
        char = exc.char
        if char == '"':
            return NonoError(
                "unterminated string: a string must end with '\"' on the same line",
                _span(filename, lines, line, column, 1),
            )
        allowed = set(exc.allowed or ())
        expected = words.describe(allowed)
        message = f"unexpected character {char!r}"
        if expected:
            message += f"; expected {expected}"
        if "STRING" in allowed and char in "/~$.":
            message += " (paths are written in double quotes)"
        return NonoError(message, _span(filename, lines, line, column, 1))
    if isinstance(exc, UnexpectedToken):
        token = exc.token
        expected_names = set(exc.expected or ()) or set(exc.accepts or ())
        if token.type == "$END":
            return _at_end(filename, text, lines, words.describe(expected_names))
        found = str(token)
        span = _span(filename, lines, token.line or 0, token.column or 0, max(len(found), 1))
        keywords = words.keywords(expected_names)
        if token.type == "NAME" and keywords and not expected_names & {"NAME", "STRING", "INT"}:
            # A bare word where a keyword belongs: almost always a misspelt keyword.
            hint = did_you_mean(found, keywords)
            if not hint:
                hint = f"; expected {words.describe(expected_names)}"
            if keywords <= TOP_KEYWORDS:
                return NonoError(f"unknown top-level item '{found}'{hint}", span)
            if keywords & STATEMENT_KEYWORDS:
                return NonoError(f"unknown statement '{found}'{hint}", span)
            return NonoError(f"unexpected '{found}'{hint}", span)
        message = f"unexpected {words.found(token.type, found)}; expected {words.describe(expected_names)}"
        if token.type == "STRING" and "NAME" in expected_names:
            message += " (names are written without quotes)"
        return NonoError(message, span)
    if isinstance(exc, UnexpectedEOF):
        return _at_end(filename, text, lines, words.describe(exc.expected or ()))
    return NonoError(f"syntax error: {exc}", _span(filename, lines, exc.line, exc.column, 1))


def _at_end(filename: str, text: str, lines: Sequence[str], expected: str) -> NonoError:
    """An error at the end of the file (after its last non-blank character)."""
    stripped = text.rstrip()
    line = stripped.count("\n") + 1 if stripped else 1
    column = len(stripped.rsplit("\n", 1)[-1]) + 1 if stripped else 1
    message = "unexpected end of file" + (f"; expected {expected}" if expected else "")
    return NonoError(message, _span(filename, lines, line, column, 1))


def _span(filename: str, lines: Sequence[str], line: int, column: int, width: int) -> Span:
    source = lines[line - 1] if 0 < line <= len(lines) else None
    if source is None and line == len(lines) + 1:
        source = ""
    return Span(filename, line, column, column + width, source)


class _Words:
    """Terminal names of one parser in words."""

    def __init__(self, parser: Lark) -> None:
        self._literals: dict[str, str] = {}
        for terminal in parser.terminals:
            if isinstance(terminal.pattern, PatternStr):
                self._literals[terminal.name] = terminal.pattern.value

    def keywords(self, names: Iterable[str]) -> set[str]:
        """The alphabetic literals (keywords) among terminal ``names``."""
        return {
            self._literals[n]
            for n in names
            if n in self._literals and self._literals[n][0].isalpha()
        }

    def found(self, type_: str, value: str) -> str:
        """What was found, for ``unexpected X``."""
        if type_ == "STRING":
            return f"string {value}"
        if type_ == "INT":
            return f"number {value}"
        return f"'{value}'"

    def describe(self, names: Iterable[str]) -> str:
        """``a quoted string or ','``; a statement position reads ``a statement ... or '}'``."""
        names = set(names)
        keywords = self.keywords(names)
        items: list[str] = []
        if len(keywords & STATEMENT_KEYWORDS) > 6:
            items.append("a statement (read, write, deny, use, network, syscall, ...)")
            # `credential` starts an entry of a proxy block; LALR merges the lookaheads
            # after a string list, so it shows up wherever a statement may follow one.
            keywords -= STATEMENT_KEYWORDS | {"credential"}
        elif keywords >= (TOP_KEYWORDS - {"abi"}):
            items.append("'profile', 'group', 'mandatory group', 'import' or 'abi'")
            keywords -= TOP_KEYWORDS
        items.extend(f"'{k}'" for k in sorted(keywords))
        for name in sorted(names):
            if name in _TERMINAL_WORDS:
                items.append(_TERMINAL_WORDS[name])
            elif name in self._literals and not self._literals[name][0].isalpha():
                items.append(f"'{self._literals[name]}'")
        # Keep the end of the file last: it reads best as the final alternative.
        end = _TERMINAL_WORDS["$END"]
        if end in items:
            items.remove(end)
            items.append(end)
        if not items:
            return ""
        if len(items) == 1:
            return items[0]
        return ", ".join(items[:-1]) + " or " + items[-1]
