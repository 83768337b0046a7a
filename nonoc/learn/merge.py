"""``nono learn --merge FILE``: add what a lesson found to an existing profile, in place.

The file is edited as text, not re-printed: the new statements go in one block just before
the closing brace of the profile's body, indented like the body, under a comment saying
where they came from. Every other byte of the file (comments, blank lines, order, the
author's spelling of paths) stays as it was. (Re-printing through a formatter would also
keep comments, but would rewrite the author's layout; an added block is the smaller diff.)
"""

from __future__ import annotations

from dataclasses import dataclass

from nonoc import ir
from nonoc.errors import NonoError, Span
from nonoc.learn.learner import Lesson
from nonoc.learn.render import INDENT, command_line, exclusions, statements
from nonoc.syntax import ast


@dataclass(frozen=True)
class Merge:
    """The edited text and what to tell the user."""

    text: str
    added: int
    warnings: tuple[str, ...]


def choose_profile(source: ast.SourceFile, name: str | None) -> ast.ProfileDef:
    """The profile of ``source`` to merge into: ``name``, or the file's only one."""
    if name is not None:
        for profile in source.profiles:
            if profile.name.text == name:
                return profile
        raise NonoError(f"{source.name} defines no profile '{name}'", Span(source.name))
    if len(source.profiles) == 1:
        return source.profiles[0]
    if not source.profiles:
        raise NonoError(f"{source.name} defines no profile to merge into", Span(source.name))
    names = ", ".join(p.name.text for p in source.profiles)
    raise NonoError(
        f"{source.name} defines several profiles ({names}); choose one with --name",
        Span(source.name),
    )


def _offset(text: str, line: int, column: int) -> int:
    lines = text.splitlines(keepends=True)
    return sum(len(lines[i]) for i in range(line - 1)) + column - 1


def body_bounds(text: str, start: int) -> tuple[int, int]:
    """Offsets of the ``{`` and the matching ``}`` of the first body after ``start``.

    Strings and comments are skipped, so a brace inside ``"..."`` or after ``#`` is text.
    """
    depth = 0
    opening = -1
    i = start
    while i < len(text):
        char = text[i]
        if char == "#":
            newline = text.find("\n", i)
            i = len(text) if newline < 0 else newline
            continue
        if char == '"':
            i += 1
            while i < len(text) and text[i] not in '"\n':
                i += 2 if text[i] == "\\" else 1
        elif char == "{":
            if depth == 0 and opening < 0:
                opening = i
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0 and opening >= 0:
                return opening, i
        i += 1
    raise NonoError("cannot find the end of the profile's body")


def _indent_of_body(text: str, opening: int, closing: int) -> tuple[str, str]:
    """(indentation of the body's statements, indentation of the closing brace's line)."""
    line_start = text.rfind("\n", 0, closing) + 1
    brace_line = text[line_start:closing]
    closing_indent = brace_line if not brace_line.strip() else ""
    first_newline = text.find("\n", opening, closing)
    # Lines of their own inside the body (not the one the opening brace is on).
    inside = text[first_newline + 1 : line_start] if first_newline >= 0 else ""
    for line in inside.splitlines():
        if line.strip():
            return line[: len(line) - len(line.lstrip())], closing_indent
    return closing_indent + INDENT, closing_indent


def _has_scope(body: tuple[ast.Statement, ...], scope: str) -> bool:
    for statement in body:
        if isinstance(statement, ast.ScopeSetting) and statement.scope.text == scope:
            return True
        if isinstance(statement, ast.PlatformBlock) and _has_scope(statement.body, scope):
            return True
    return False


def merge(
    source: ast.SourceFile, profile: ast.ProfileDef, lesson: Lesson, policy: ir.Policy
) -> Merge:
    """Insert the lesson's statements into ``profile`` of ``source`` (whose resolution is ``policy``)."""
    text = source.text
    warnings: list[str] = []
    body = statements(lesson, network=False)
    network = lesson.network
    if network.mode == "open" and policy.network.mode is not ir.NetworkMode.OPEN:
        warnings.append(
            f"the command used the network, which this profile's `network {policy.network.mode.value}` "
            "may refuse; the endpoints are listed in a comment, the mode is left as it was"
        )
        body += ["", *("# " + c for c in network.comments)]
    if "scope abstract_unix off" in network.statements and policy.scopes.abstract_unix_socket:
        if _has_scope(profile.body, "abstract_unix"):
            warnings.append(
                "the command reached abstract unix sockets, which this profile's scope refuses; "
                "it sets the scope itself, so it is left as it was"
            )
        else:
            body.append("scope abstract_unix off")
    grants = [line for line in body if line and not line.startswith("#")]
    if not grants and not lesson.left_out and not warnings:
        return Merge(text, 0, tuple(warnings))
    start = _offset(text, profile.span.line, profile.span.column)
    opening, closing = body_bounds(text, start)
    inner, closing_indent = _indent_of_body(text, opening, closing)
    block = [f"Added by `nono learn` from: {command_line(lesson.command)}"]
    block += [line for line in exclusions(lesson) if line]
    lines = [""] + [f"{inner}# {line}".rstrip() for line in block]
    lines += [f"{inner}{line}" if line else "" for line in body]
    line_start = text.rfind("\n", 0, closing) + 1
    if text[line_start:closing].strip():
        # `profile p { read "/x" }` on one line: the block goes on lines of its own.
        new_text = (
            text[:closing].rstrip(" ")
            + "\n"
            + "\n".join(lines[1:])
            + "\n"
            + closing_indent
            + text[closing:]
        )
    else:
        blank_before = line_start >= 2 and text[line_start - 2] == "\n"
        if blank_before or text[opening + 1 : closing].strip() == "":
            lines = lines[1:]  # a blank line is already there (or the body is empty)
        new_text = text[:line_start] + "\n".join(lines) + "\n" + text[line_start:]
    return Merge(new_text, len(grants), tuple(warnings))
