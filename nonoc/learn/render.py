"""Write a ``Lesson`` as policy text: a new profile, or statements to add to one.

The text is what a careful person would write by hand: a header saying where it came from
and what was deliberately left out, then one statement per line, grouped by verb and sorted,
so that two runs that saw the same things print the same file.
"""

from __future__ import annotations

import re
import shlex

from nonoc.learn.fold import verbs
from nonoc.learn.learner import Lesson
from nonoc.syntax.literal import quote

INDENT = "  "
_NAME_CHARS = re.compile(r"[^A-Za-z0-9_.\-]+")
_LIMIT = 20


def profile_name(command: list[str]) -> str:
    """``learned-<program>``, in the characters a name may hold."""
    program = command[0].rsplit("/", 1)[-1] if command else "command"
    cleaned = _NAME_CHARS.sub("-", program).strip("-.") or "command"
    return f"learned-{cleaned}"


def command_line(command: list[str], limit: int = 120) -> str:
    """The command as a shell would read it, shortened, on one line."""
    text = shlex.join(command).replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def statements(lesson: Lesson, *, network: bool = True) -> list[str]:
    """The body lines that grant what the lesson found (comments included)."""
    lines: list[str] = []
    if lesson.groups:
        lines.append("use " + ", ".join(lesson.groups))
    by_verb: dict[str, list[str]] = {}
    for rule in lesson.rules:
        for verb in verbs(rule.modes):
            key = f"{verb} file" if rule.file else verb
            by_verb.setdefault(key, []).append(quote(rule.template))
    order = ["read", "read file", "write", "write file", "allow", "allow file", "exec", "exec file"]
    for key in order:
        for literal in by_verb.get(key, []):
            lines.append(f"{key} {literal}")
    for socket in lesson.network.unix_sockets:
        lines.append(f"unix_socket {quote(socket)}")
    if lesson.command_allow:
        lines.append("command allow " + ", ".join(quote(n) for n in lesson.command_allow))
    if network:
        if lesson.network.comments:
            lines.append("")
            lines.extend("# " + c for c in lesson.network.comments)
        lines.extend(lesson.network.statements)
    return lines


def header(lesson: Lesson) -> list[str]:
    """Comment lines: the command, the base, what was left out, what failed."""
    lines = [f"Learned by `nono learn` from: {command_line(lesson.command)}"]
    lines.append(
        f"It saw {lesson.processes} process(es) make {lesson.accesses} distinct successful "
        "accesses; review the rules before relying on them."
    )
    if lesson.exit_status not in (None, 0):
        lines.append(
            f"The command exited with status {lesson.exit_status}: what it did not reach is not here."
        )
    if lesson.base_note:
        lines.append(lesson.base_note)
    lines += exclusions(lesson)
    if lesson.failed or lesson.missing:
        lines.append("")
        lines.append(
            f"Failed attempts are not granted ({lesson.missing} of missing files not listed)"
            + (":" if lesson.failed else ".")
        )
        lines.extend(
            f"  {mode} {template} ({error})" for mode, template, error in lesson.failed[:_LIMIT]
        )
        if len(lesson.failed) > _LIMIT:
            lines.append(f"  ... and {len(lesson.failed) - _LIMIT} more")
    return lines


def exclusions(lesson: Lesson) -> list[str]:
    """Comment lines for what was seen and deliberately not granted."""
    lines: list[str] = []
    if lesson.left_out:
        lines.append("")
        lines.append("Left out (the policy denies them; this profile does not grant them):")
        lines.extend(f"  {entry.describe()}" for entry in lesson.left_out[:_LIMIT])
        if len(lesson.left_out) > _LIMIT:
            lines.append(f"  ... and {len(lesson.left_out) - _LIMIT} more")
    if lesson.too_broad:
        lines.append("")
        lines.append("Not granted (a grant of these directories would cover their whole tree):")
        for mode, template in lesson.too_broad[:_LIMIT]:
            why = "listing it" if mode == "read" else "creating or removing entries in it"
            lines.append(f"  {mode} {template} ({why})")
    return lines


def render_profile(lesson: Lesson, name: str | None = None) -> str:
    """A complete policy file holding one profile that extends the lesson's base."""
    name = name or profile_name(lesson.command)
    program = lesson.command[0].rsplit("/", 1)[-1] if lesson.command else "a command"
    out = [f"# {line}".rstrip() for line in header(lesson)]
    out.append("")
    if lesson.base_import:
        out.append(f"import {quote(lesson.base_import)}")
        out.append("")
    extends = f" extends {lesson.base}" if lesson.base else ""
    out.append(f"profile {name}{extends} {quote('Learned from ' + program)} {{")
    body = statements(lesson)
    out.extend(f"{INDENT}{line}" if line else "" for line in body)
    out.append("}")
    return "\n".join(out) + "\n"
