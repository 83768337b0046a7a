"""``nonoc fmt``: print a policy file in canonical form, comments kept.

The canonical form: two spaces per block level, one statement per line, ``, `` between
list items, strings re-quoted with the language's escapes, numbers as written. A list
longer than ``WIDTH`` columns is filled onto continuation lines indented four more spaces.
Blank lines are kept (at most one in a row), none just inside braces, and exactly one
before each top-level ``group`` or ``profile`` (and the comments that lead into it).
Trailing comments of neighbouring lines are aligned.

Statements are printed from the syntax tree in source order, so the source's tokens
keep their order in the output. That is what places comments, which the parser does not
keep: each output line starts at a known source position, so a comment after code goes
to the line holding the token before it, and a comment on a line of its own goes on a
line of its own before the first output line that starts after it. A comment between two items
of a list ends the output line there, so it stays beside the item it followed.

``format_text`` re-parses what it prints and refuses (with an error, never silently) if
the syntax tree or the comments differ from the input's: formatting cannot change what
a policy means.
"""

from __future__ import annotations

import bisect
import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from nonoc.errors import NonoError, Span
from nonoc.syntax import ast
from nonoc.syntax.literal import quote as _quote
from nonoc.syntax.parser import parse

#: The column a filled list stays within (when its items allow).
WIDTH = 100
#: Spaces per block level, and the extra indentation of a list's continuation lines.
INDENT = 2
CONTINUATION = 4

Pos = tuple[int, int]

_TOKEN = re.compile(
    r"""(?P<space>[ \t\f\r]+)
      | (?P<newline>\n)
      | (?P<comment>\#[^\n]*)
      | (?P<string>"(?:[^"\\\n]|\\.)*")
      | (?P<word>[A-Za-z_][A-Za-z0-9_.\-]*|0[xX][0-9a-fA-F]+|[0-9]+)
      | (?P<punct>==|!=|<=|>=|[<>{},&])
      | (?P<other>.)""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Comment:
    pos: Pos
    text: str
    own_line: bool


@dataclass
class _Line:
    """One output line: indentation, code, the source position it starts at, comments."""

    indent: int
    code: str
    first: Pos
    comment: bool = False  # a comment on a line of its own
    trailing: list[str] = field(default_factory=list)
    blank_before: bool = False
    definition: bool = False  # a top-level group/profile header: one blank line before


def format_text(text: str, filename: str) -> str:
    """The canonical form of ``text`` (the contents of ``filename``).

    Raises ``NonoError`` on a syntax error, or if the result would not parse back to the
    same syntax tree and comments (a bug in this module, reported rather than written).
    """
    source = parse(text, filename)
    tokens, comments = _scan(text)
    printer = _Printer(tokens, [c.pos for c in comments])
    lines = printer.source_file(source)
    result = _render(_weave(lines, tokens, comments))
    _check_same(source, comments, result, filename)
    return result


# --------------------------------------------------------------------------- scanning


def _scan(text: str) -> tuple[list[tuple[Pos, str]], list[_Comment]]:
    """Every token's position and text, and every comment, in source order."""
    tokens: list[tuple[Pos, str]] = []
    comments: list[_Comment] = []
    line, line_start = 1, 0
    code_on_line = False
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        pos = (line, match.start() - line_start + 1)
        if kind == "newline":
            line, line_start, code_on_line = line + 1, match.end(), False
        elif kind == "comment":
            comments.append(_Comment(pos, match.group().rstrip(), own_line=not code_on_line))
        elif kind != "space":
            tokens.append((pos, match.group()))
            code_on_line = True
    return tokens, comments


# --------------------------------------------------------------------------- printing


class _Printer:
    """Turns the syntax tree into output lines, each knowing where its source starts."""

    def __init__(self, tokens: list[tuple[Pos, str]], comment_positions: list[Pos]) -> None:
        self.tokens = tokens
        self.comment_positions = comment_positions
        self.lines: list[_Line] = []

    def emit(self, indent: int, code: str, first: Pos, *, definition: bool = False) -> None:
        """Add one line."""
        self.lines.append(_Line(indent, code, first, definition=definition))

    def source_file(self, source: ast.SourceFile) -> list[_Line]:
        """Lines for a whole file, top-level items in source order."""
        items: list[Any] = [*source.imports, *source.groups, *source.profiles]
        if source.abi is not None:
            items.append(source.abi)
        for item in sorted(items, key=lambda i: (i.span.line, i.span.column)):
            if isinstance(item, ast.Import):
                stdlib = "stdlib " if item.stdlib else ""
                self.emit(0, f"import {stdlib}{_quote(item.target.value)}", _pos(item.span))
            elif isinstance(item, ast.Setting):
                self.statement(item, 0)
            elif isinstance(item, ast.GroupDef):
                head = ("mandatory " if item.mandatory else "") + f"group {item.name.text}"
                self.block(head + _description(item.description), item.body, item.span, 0, True)
            else:
                head = f"profile {item.name.text}"
                if item.extends:
                    head += " extends " + ", ".join(w.text for w in item.extends)
                self.block(head + _description(item.description), item.body, item.span, 0, True)
        return self.lines

    def block(
        self,
        head: str,
        body: Sequence[ast.Statement],
        span: Span,
        indent: int,
        definition: bool = False,
    ) -> None:
        """``head {``, the body one level in, then ``}`` at the source's closing brace."""
        self.emit(indent, head + " {", _pos(span), definition=definition)
        for stmt in body:
            self.statement(stmt, indent + INDENT)
        self.emit(indent, "}", self.closing_brace(_pos(span)))

    def closing_brace(self, after: Pos) -> Pos:
        """The position of the ``}`` matching the first ``{`` at or after ``after``."""
        depth = 0
        for pos, text in self.tokens:
            if pos < after:
                continue
            if text == "{":
                depth += 1
            elif text == "}":
                depth -= 1
                if depth == 0:
                    return pos
        raise ValueError(f"no closing brace after {after}")  # the parser saw one

    def statement(self, stmt: ast.Statement, indent: int) -> None:
        """The line(s) of one statement."""
        start = _pos(stmt.span)
        if isinstance(stmt, ast.PlatformBlock):
            self.block(f"on {stmt.platform.text}", stmt.body, stmt.span, indent)
        elif isinstance(stmt, ast.NetworkSetting):
            self.network(stmt, indent)
        elif isinstance(stmt, ast.SyscallRule):
            tail = f" {stmt.action.text}"
            if stmt.errno is not None:
                tail += f" errno {stmt.errno.text}"
            if stmt.conditions:
                tail += " if " + " and ".join(_condition(c) for c in stmt.conditions)
            self.listing(indent, "syscall", [_word(w) for w in stmt.names], start, tail)
        else:
            head, items = _simple(stmt)
            if items:
                self.listing(indent, head, items, start)
            else:
                self.emit(indent, head, start)

    def network(self, stmt: ast.NetworkSetting, indent: int) -> None:
        """``network MODE``, with its proxy hosts on one line or as a block of ``allow`` lines
        (one per ``allow`` clause of the source, so an author's grouping of hosts stays)."""
        head = f"network {stmt.mode.text}"
        start = _pos(stmt.span)
        if not stmt.hosts and not stmt.routes:
            self.emit(indent, head, start)
            return
        close = self.closing_brace(start)
        clauses: list[tuple[Pos, list[tuple[str, Pos]]]] = []
        allows = [pos for pos, tok in self.tokens if start < pos < close and tok == "allow"]
        for host in stmt.hosts:
            host_pos = _pos(host.span)
            clause = max(p for p in allows if p < host_pos)
            if not clauses or clauses[-1][0] != clause:
                clauses.append((clause, []))
            clauses[-1][1].append((_quote(host.value), host_pos))
        if len(clauses) == 1 and not stmt.routes:
            one_line = f"{head} {{ allow {', '.join(text for text, _ in clauses[0][1])} }}"
            quiet = not any(start < c < close for c in self.comment_positions)
            if quiet and indent + len(one_line) <= WIDTH:
                self.emit(indent, one_line, start)
                return
        self.emit(indent, head + " {", start)
        entries: list[tuple[Pos, Any]] = [*clauses, *((_pos(r.span), r) for r in stmt.routes)]
        for position, entry in sorted(entries, key=lambda item: item[0]):
            if isinstance(entry, ast.CredentialRouteDef):
                self.credential_route(entry, indent + INDENT)
            else:
                self.listing(indent + INDENT, "allow", entry, position)
        self.emit(indent, "}", close)

    def credential_route(self, route: ast.CredentialRouteDef, indent: int) -> None:
        """``credential "name" {``, one ``field "value"`` per line, ``}``."""
        start = _pos(route.span)
        self.emit(indent, f"credential {_quote(route.name.value)} {{", start)
        for field_ in route.fields:
            line = f"{field_.key.text} {_quote(field_.value.value)}"
            self.emit(indent + INDENT, line, _pos(field_.span))
        self.emit(indent, "}", self.closing_brace(start))

    def listing(
        self, indent: int, head: str, items: list[tuple[str, Pos]], start: Pos, tail: str = ""
    ) -> None:
        """``head a, b, …tail``, filled to ``WIDTH``; a comment between items ends a line."""
        line = f"{head} {items[0][0]}"
        first = start
        for index in range(1, len(items)):
            text, pos = items[index]
            last = index == len(items) - 1
            between = any(items[index - 1][1] < c < pos for c in self.comment_positions)
            width = len(line) + 2 + len(text) + (len(tail) if last else 0)
            if between or (line_indent(indent, first, start) + width > WIDTH):
                self.emit(line_indent(indent, first, start), line + ",", first)
                line, first = text, pos
            else:
                line += f", {text}"
        self.emit(line_indent(indent, first, start), line + tail, first)


def line_indent(indent: int, first: Pos, start: Pos) -> int:
    """A list's first line sits at the statement's indent; the others four spaces more."""
    return indent if first == start else indent + CONTINUATION


def _simple(stmt: ast.Statement) -> tuple[str, list[tuple[str, Pos]]]:
    """The head and list items of every statement but blocks, networks and syscalls."""
    if isinstance(stmt, ast.Use):
        return "use", [_word(w) for w in stmt.groups]
    if isinstance(stmt, ast.PathRule):
        head = ("require " if stmt.required else "") + stmt.verb + (" file" if stmt.file else "")
        return head, _texts(stmt.paths)
    if isinstance(stmt, ast.DenyRule):
        return "deny" + (" file" if stmt.file else ""), _texts(stmt.paths)
    if isinstance(stmt, ast.Assert):
        return f"assert never {stmt.verb} {_quote(stmt.path.value)}", []
    if isinstance(stmt, ast.PortRule):
        return f"port {stmt.direction.text}", [(_number(n), _pos(n.span)) for n in stmt.ports]
    if isinstance(stmt, ast.ScopeSetting):
        return f"scope {stmt.scope.text} {stmt.value.text}", []
    if isinstance(stmt, ast.Setting):
        return f"{stmt.key} {_value(stmt.value)}", []
    if isinstance(stmt, ast.Protect):
        return f"protect {stmt.what.text}", []
    if isinstance(stmt, ast.EnvKeep):
        return "env keep", _texts(stmt.names)
    if isinstance(stmt, ast.EnvSet):
        return f"env set {_quote(stmt.name.value)} {_quote(stmt.value.value)}", []
    if isinstance(stmt, ast.CommandRule):
        return f"command {stmt.mode}", _texts(stmt.commands)
    if isinstance(stmt, ast.UnixSocket):
        return "unix_socket", _texts(stmt.paths)
    raise TypeError(f"no canonical form for {type(stmt).__name__}")  # pragma: no cover


def _pos(span: Span) -> Pos:
    return (span.line, span.column)


def _description(text: str) -> str:
    return f" {_quote(text)}" if text else ""


def _word(word: ast.Word) -> tuple[str, Pos]:
    return word.text, _pos(word.span)


def _texts(texts: Sequence[ast.Text]) -> list[tuple[str, Pos]]:
    return [(_quote(t.value), _pos(t.span)) for t in texts]


def _number(number: ast.Number) -> str:
    """A number as written (``0x5412`` stays hexadecimal)."""
    span = number.span
    if span.source_line is not None and span.end_column:
        written = span.source_line[span.column - 1 : span.end_column - 1]
        if written and int(written, 0) == number.value:
            return written
    return str(number.value)


def _value(value: ast.Word | ast.Number) -> str:
    return _number(value) if isinstance(value, ast.Number) else value.text


def _condition(cond: ast.Condition) -> str:
    if cond.mask is not None:
        return f"{cond.arg.text} & {_value(cond.mask)} == {_value(cond.value)}"
    return f"{cond.arg.text} {cond.op} {_value(cond.value)}"


# --------------------------------------------------------------------------- comments and blanks


def _weave(
    lines: list[_Line], tokens: list[tuple[Pos, str]], comments: list[_Comment]
) -> list[_Line]:
    """Place the comments among ``lines`` and decide the blank lines."""
    firsts = [line.first for line in lines]
    token_positions = [pos for pos, _ in tokens]
    before: dict[int, list[_Comment]] = {}
    at_end: list[_Comment] = []
    for comment in comments:
        if comment.own_line:
            # Before the first line that starts after it (a line that started before it,
            # like a list's line ending in the comma before the comment, stays above).
            following = bisect.bisect_right(firsts, comment.pos)
            if following == len(lines):
                at_end.append(comment)
            else:
                before.setdefault(following, []).append(comment)
        else:
            preceding = max(p for p in token_positions if p < comment.pos)
            lines[_line_of(firsts, preceding)].trailing.append(comment.text)
    woven: list[_Line] = []
    for index, line in enumerate(lines):
        closing = line.code == "}"
        indent = line.indent + INDENT if closing else line.indent
        for comment in before.get(index, []):
            woven.append(_Line(indent, comment.text, comment.pos, comment=True))
        # Several comments ending on one output line: all but the last go above it.
        for text in line.trailing[:-1]:
            woven.append(_Line(line.indent, text, line.first, comment=True))
        line.trailing = line.trailing[-1:]
        woven.append(line)
    woven.extend(_Line(0, c.text, c.pos, comment=True) for c in at_end)
    _blank_lines(woven, sorted([*token_positions, *(c.pos for c in comments)]))
    return woven


def _line_of(firsts: list[Pos], pos: Pos) -> int:
    """The index of the output line holding the source token at ``pos``."""
    return max(bisect.bisect_right(firsts, pos) - 1, 0)


def _blank_lines(lines: list[_Line], positions: list[Pos]) -> None:
    """Keep the source's blank lines (one at most), none inside braces' edges, and one
    before each top-level definition and the comments leading into it."""
    for index, line in enumerate(lines):
        if index == 0:
            continue
        before = bisect.bisect_left(positions, line.first)
        gap = before > 0 and line.first[0] - positions[before - 1][0] >= 2
        after_open = lines[index - 1].code.endswith("{") and not lines[index - 1].comment
        closing = line.code == "}" and not line.comment
        line.blank_before = gap and not after_open and not closing
    for index, line in enumerate(lines):
        if not line.definition or index == 0:
            continue
        lead = index
        while lead > 0 and lines[lead - 1].comment and lines[lead - 1].indent == 0:
            if lines[lead].blank_before:
                break
            lead -= 1
        if lead > 0:
            lines[lead].blank_before = True


def _render(lines: list[_Line]) -> str:
    """The text: trailing comments of neighbouring lines aligned, one newline at the end."""
    columns = _comment_columns(lines)
    out: list[str] = []
    for index, line in enumerate(lines):
        if line.blank_before:
            out.append("")
        text = " " * line.indent + line.code
        if line.trailing:
            text = text.ljust(columns[index]) + line.trailing[0]
        out.append(text)
    return "\n".join(out) + "\n" if out else ""


def _comment_columns(lines: list[_Line]) -> dict[int, int]:
    """The column of each trailing comment: two spaces past the longest commented line of
    its run (neighbouring code lines at one indentation, no blank or comment line between)."""
    columns: dict[int, int] = {}
    run: list[int] = []

    def close() -> None:
        commented = [i for i in run if lines[i].trailing]
        if commented:
            width = max(lines[i].indent + len(lines[i].code) for i in commented) + 2
            columns.update({i: width for i in commented})
        run.clear()

    for index, line in enumerate(lines):
        if line.comment or line.blank_before or (run and lines[run[0]].indent != line.indent):
            close()
        if not line.comment:
            run.append(index)
    close()
    return columns


# --------------------------------------------------------------------------- safety check


def _shape(node: Any) -> Any:
    """A syntax tree without positions, for comparing two parses."""
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        skip = {"span", "name", "text"} if isinstance(node, ast.SourceFile) else {"span"}
        return (
            type(node).__name__,
            tuple(
                (f.name, _shape(getattr(node, f.name)))
                for f in dataclasses.fields(node)
                if f.name not in skip
            ),
        )
    if isinstance(node, tuple):
        return tuple(_shape(item) for item in node)
    return node


def _check_same(
    source: ast.SourceFile, comments: list[_Comment], result: str, filename: str
) -> None:
    """Refuse a result whose syntax tree or comments differ from the input's."""
    try:
        again = parse(result, filename)
    except NonoError as exc:
        raise NonoError(
            f"nonoc fmt produced text that does not parse ({exc}); the file was not changed",
            Span(filename),
            notes=("this is a bug in nonoc fmt",),
        ) from None
    _, new_comments = _scan(result)
    if _shape(again) != _shape(source) or sorted(c.text for c in new_comments) != sorted(
        c.text for c in comments
    ):
        raise NonoError(
            f"nonoc fmt would change the meaning or the comments of {filename}; "
            "the file was not changed",
            Span(filename),
            notes=("this is a bug in nonoc fmt",),
        )
