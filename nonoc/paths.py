"""Path templates: how policies name paths before the host that runs them is known.

A template is an absolute path (``/usr/lib``) or starts with one variable (``$HOME/.ssh``,
``$CWD``). The compiler normalises what users write (``~``, ``${HOME}``, ``./src``,
trailing slashes) into that one form, so two spellings of the same policy give the same
bundle; the launcher expands templates against the real environment at exec time.

Comparison is by path component: ``$HOME/.sshfoo`` is not under ``$HOME/.ssh``.
Standard library only: the launcher uses this module.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:  # collections.abc and re cost the launcher milliseconds at import time
    import re
    from collections.abc import Mapping

#: Variables a template may start with (``nonoc.ir.PATH_VARIABLES`` is this tuple).
VARIABLES: tuple[str, ...] = (
    "HOME",
    "CWD",
    "TMPDIR",
    "UID",
    "XDG_CONFIG_HOME",
    "XDG_CACHE_HOME",
    "XDG_DATA_HOME",
    "XDG_STATE_HOME",
    "XDG_RUNTIME_DIR",
)

_WILDCARDS = ("*", "?", "[")

_VAR_PATTERN = r"^\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
_var: re.Pattern[str] | None = None


def _variable_pattern() -> re.Pattern[str]:
    """The pattern of a leading ``$NAME`` or ``${NAME}``, compiled on first use.

    Only ``normalize`` (the compiler's side) needs it; the launcher only expands templates
    and must not pay for importing ``re``.
    """
    global _var
    if _var is None:
        import re

        _var = re.compile(_VAR_PATTERN)
    return _var


class TemplateError(ValueError):
    """A path template that cannot be normalised; ``offset`` points into the raw text."""

    def __init__(self, message: str, offset: int = 0) -> None:
        super().__init__(message)
        self.offset = offset


class UnsetVariable(LookupError):
    """A template names a variable the launching environment does not provide."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def normalize(raw: str, *, relative_base: str = "$CWD") -> str:
    """Return the canonical template for ``raw``.

    ``~`` and ``~/x`` become ``$HOME`` and ``$HOME/x``; ``${VAR}`` becomes ``$VAR``; a
    relative path is taken relative to ``relative_base``; ``.`` components and repeated or
    trailing slashes go. ``..`` is refused: it would make component comparison lie.
    """
    text = raw.strip()
    if not text:
        raise TemplateError("empty path")
    if "\x00" in text:
        raise TemplateError("path contains a NUL byte", text.index("\x00"))
    head: str
    rest: str
    if text == "~" or text.startswith("~/"):
        head, rest = "$HOME", text[1:]
    elif text.startswith("~"):
        raise TemplateError("'~user' paths are not supported; write the absolute path")
    elif text.startswith("$"):
        match = _variable_pattern().match(text)
        if match is None:
            raise TemplateError("'$' must start a variable name such as $HOME")
        name = match.group("braced") or match.group("bare")
        if name not in VARIABLES:
            raise TemplateError(
                f"unknown variable ${name}; known: " + ", ".join("$" + v for v in VARIABLES)
            )
        head, rest = f"${name}", text[match.end() :]
        if rest and not rest.startswith("/"):
            raise TemplateError(f"a variable must be followed by '/' (after ${name})", match.end())
    elif text.startswith("/"):
        head, rest = "", text
    else:
        head, rest = relative_base, "/" + text
    parts = []
    for part in rest.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            raise TemplateError("'..' is not allowed in a policy path", text.find(".."))
        if "$" in part:
            raise TemplateError("a variable may only start a path", text.find("$", 1))
        wildcard = next((c for c in _WILDCARDS if c in part), None)
        if wildcard is not None:
            # Landlock would take the character literally and Seatbelt as a pattern: the
            # same policy would mean two things, and a deny could silently miss on Linux.
            raise TemplateError(
                f"wildcards are not part of the language ('{wildcard}'): name a file or a directory tree",
                text.find(wildcard),
            )
        parts.append(part)
    body = "/".join(parts)
    if head:
        return f"{head}/{body}" if body else head
    return "/" + body


def variables(template: str) -> frozenset[str]:
    """The variables ``template`` needs (at most one: templates start with it)."""
    if template.startswith("$"):
        return frozenset({template[1:].split("/", 1)[0]})
    return frozenset()


def components(template: str) -> tuple[str, ...]:
    """The template split into components; a leading variable is one component (``$HOME``)."""
    return tuple(part for part in template.split("/") if part)


def is_within(inner: str, outer: str) -> bool | None:
    """Whether ``inner`` equals or lies beneath ``outer``, comparing whole components.

    Returns ``None`` when the answer depends on the host (different variable bases, or a
    variable against an absolute path): only the launcher can tell then.
    """
    inner_parts, outer_parts = components(inner), components(outer)
    inner_var = inner.startswith("$")
    outer_var = outer.startswith("$")
    if inner_var != outer_var or (inner_var and inner_parts[0] != outer_parts[0]):
        return None
    return inner_parts[: len(outer_parts)] == outer_parts


def host_variables(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The values of the template variables on this host, from ``environ`` (default: os.environ).

    ``HOME`` must be set. ``CWD`` and ``UID`` always have a value. ``TMPDIR`` defaults to
    ``/tmp`` and the XDG base directories to their specification's defaults under ``HOME``.
    ``XDG_RUNTIME_DIR`` has no default: a template using it fails when it is unset.
    """
    env = os.environ if environ is None else environ
    values: dict[str, str] = {"CWD": os.getcwd(), "UID": str(os.getuid())}
    home = env.get("HOME")
    if home:
        values["HOME"] = home
        values["XDG_CONFIG_HOME"] = env.get("XDG_CONFIG_HOME") or f"{home}/.config"
        values["XDG_CACHE_HOME"] = env.get("XDG_CACHE_HOME") or f"{home}/.cache"
        values["XDG_DATA_HOME"] = env.get("XDG_DATA_HOME") or f"{home}/.local/share"
        values["XDG_STATE_HOME"] = env.get("XDG_STATE_HOME") or f"{home}/.local/state"
    values["TMPDIR"] = env.get("TMPDIR") or "/tmp"
    if env.get("XDG_RUNTIME_DIR"):
        values["XDG_RUNTIME_DIR"] = env["XDG_RUNTIME_DIR"]
    return values


def expand(template: str, values: Mapping[str, str]) -> str:
    """Substitute the template's variable from ``values`` (see ``host_variables``).

    Raises ``UnsetVariable`` naming the variable when ``values`` lacks it. The result is
    absolute and normalised, but symlinks are not resolved: that is the caller's choice.
    """
    if not template.startswith("$"):
        return template
    name, _, rest = template[1:].partition("/")
    value = values.get(name)
    if not value:
        raise UnsetVariable(name)
    base = os.path.normpath(value)
    if not base.startswith("/"):
        raise UnsetVariable(name)
    return f"{base.rstrip('/')}/{rest}" if rest else base
