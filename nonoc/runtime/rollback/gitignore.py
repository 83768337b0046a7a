"""A matcher for the common ``.gitignore`` syntax.

Supported, as git documents it: blank lines and ``#`` comments; ``\\`` escapes (``\\#``,
``\\!``, ``\\ ``); trailing spaces dropped unless escaped; ``!`` negation; a trailing ``/``
for directories only; a ``/`` at the start or in the middle anchors the pattern to the
directory of the ``.gitignore``, otherwise it matches a name at any depth; ``*``, ``?`` and
``[...]`` (with ``!`` or ``^`` negation) never match ``/``; ``**/`` at the start, ``/**`` at the
end and ``/**/`` in the middle match any number of directories.

Precedence, also as git: within one file the last matching pattern wins; a deeper
``.gitignore`` overrides a shallower one. Re-including a path whose parent directory is
ignored is impossible in git, and is here too because the walker never enters an ignored
directory. Not supported: POSIX classes such as ``[[:alpha:]]``, ``core.ignorecase``,
``.git/info/exclude`` and the global excludes file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Pattern:
    """One compiled pattern line."""

    text: str
    regex: re.Pattern[str]
    negated: bool
    dir_only: bool
    anchored: bool

    def matches(self, rel: str, name: str, is_dir: bool) -> bool:
        """Whether the pattern matches ``rel`` (relative to the pattern's base directory)."""
        if self.dir_only and not is_dir:
            return False
        return self.regex.fullmatch(rel if self.anchored else name) is not None


def compile_pattern(line: str) -> Pattern | None:
    """Compile one line of a ``.gitignore``; ``None`` for blank lines and comments."""
    text = line.rstrip("\n").rstrip("\r")
    text = _strip_trailing_spaces(text)
    if not text or text.startswith("#"):
        return None
    negated = False
    if text.startswith("!"):
        negated, text = True, text[1:]
    elif text.startswith("\\!") or text.startswith("\\#"):
        text = text[1:]
    dir_only = text.endswith("/") and not text.endswith("\\/")
    if dir_only:
        text = text.rstrip("/")
    if not text:
        return None
    anchored = "/" in text
    if text.startswith("/"):
        text = text[1:]
    return Pattern(line.strip(), re.compile(translate(text)), negated, dir_only, anchored)


def translate(pattern: str) -> str:
    """Translate a pattern body (no leading ``!`` or ``/``, no trailing ``/``) into a regex."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            j = i
            while j < n and pattern[j] == "*":
                j += 1
            boundary_before = i == 0 or pattern[i - 1] == "/"
            boundary_after = j == n or pattern[j] == "/"
            if j - i == 2 and boundary_before and boundary_after:
                if j == n:
                    out.append(".*")  # "dir/**": everything inside; "**": everything
                    i = j
                else:
                    out.append("(?:.*/)?")  # "**/": zero or more directories
                    i = j + 1
                continue
            out.append("[^/]*")
            i = j
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            end, klass = _char_class(pattern, i)
            if klass is None:
                out.append(re.escape(c))
                i += 1
            else:
                out.append(klass)
                i = end
        elif c == "\\" and i + 1 < n:
            out.append(re.escape(pattern[i + 1]))
            i += 2
        else:
            out.append(re.escape(c))
            i += 1
    return "".join(out)


def _char_class(pattern: str, start: int) -> tuple[int, str | None]:
    """Parse ``[...]`` at ``start``; return (index after it, regex) or (start, None) if unclosed."""
    i = start + 1
    negate = i < len(pattern) and pattern[i] in "!^"
    if negate:
        i += 1
    body: list[str] = []
    first = True
    while i < len(pattern):
        c = pattern[i]
        if c == "]" and not first:
            inner = "".join(body)
            return i + 1, f"(?!/)[{'^' if negate else ''}{inner}]"
        if c == "\\" and i + 1 < len(pattern):
            body.append(re.escape(pattern[i + 1]))
            i += 2
        else:
            body.append("-" if c == "-" else re.escape(c))
            i += 1
        first = False
    return start, None


def _strip_trailing_spaces(text: str) -> str:
    while text.endswith(" ") and not text.endswith("\\ "):
        text = text[:-1]
    if text.endswith("\\ "):
        text = text[:-2] + " "
    return text


@dataclass(frozen=True)
class IgnoreFile:
    """The patterns of one ``.gitignore``; ``base`` is its directory relative to the root."""

    base: str
    patterns: tuple[Pattern, ...]

    def decide(self, rel: str, name: str, is_dir: bool) -> bool | None:
        """True (ignored), False (re-included by ``!``) or None (no pattern matched)."""
        if self.base:
            rel = rel[len(self.base) + 1 :]
        for pattern in reversed(self.patterns):
            if pattern.matches(rel, name, is_dir):
                return not pattern.negated
        return None


def parse(text: str, base: str = "") -> IgnoreFile:
    """Parse the text of a ``.gitignore`` located at directory ``base`` (relative, posix)."""
    patterns = [p for line in text.splitlines() if (p := compile_pattern(line)) is not None]
    return IgnoreFile(base, tuple(patterns))


def is_ignored(stack: tuple[IgnoreFile, ...], rel: str, is_dir: bool) -> bool:
    """Decide with the innermost ``.gitignore`` first, as git does."""
    name = rel.rpartition("/")[2]
    for ignore_file in reversed(stack):
        decision = ignore_file.decide(rel, name, is_dir)
        if decision is not None:
            return decision
    return False


class PatternList:
    """Patterns given on the command line (``--rollback-exclude``), relative to each root."""

    def __init__(self, lines: tuple[str, ...] | list[str]) -> None:
        self.file = IgnoreFile("", tuple(p for line in lines if (p := compile_pattern(line))))

    def __bool__(self) -> bool:
        return bool(self.file.patterns)

    def matches(self, rel: str, is_dir: bool) -> bool:
        """Whether the last matching pattern selects ``rel`` (a ``!`` pattern deselects it)."""
        return bool(self.file.decide(rel, rel.rpartition("/")[2], is_dir))

    def may_match_below(self, rel_dir: str) -> bool:
        """Whether an anchored pattern could select something inside ``rel_dir``."""
        for pattern in self.file.patterns:
            if pattern.negated or not pattern.anchored:
                continue
            literal = _literal_prefix(pattern.text.lstrip("/"))
            if literal.startswith(rel_dir + "/") or (rel_dir + "/").startswith(literal):
                return True
        return False


def _literal_prefix(text: str) -> str:
    match = re.match(r"[^*?\[\\]*", text)
    return match.group(0) if match else ""
