"""Filesystem access words of nono's JSON and the policy statements they become.

In nono's JSON, ``read`` lets a program run what it reads (on Linux it is Landlock's
read set, which includes EXECUTE), and ``readwrite``/``allow`` is everything. The policy
language separates execution, so the importer writes ``exec`` beside every ``read`` and
``allow`` it imports; ``write`` stays write alone.
"""

from __future__ import annotations

from collections.abc import Callable

from nonoc.importer.context import Context, JsonPath
from nonoc.importer.writer import Block
from nonoc.paths import is_within, normalize

#: JSON access word -> the policy verbs it becomes.
VERBS: dict[str, tuple[str, ...]] = {
    "read": ("read", "exec"),
    "readwrite": ("allow", "exec"),
    "allow": ("allow", "exec"),
    "write": ("write",),
    "exec": ("exec",),
    "execute": ("exec",),
}

#: Is a path held back, and why (a message), or None.
Holdback = Callable[[str], str | None]


def emit_grants(
    ctx: Context,
    block: Block,
    access: str,
    value: object,
    path: JsonPath,
    *,
    file: bool = False,
    holdback: Holdback | None = None,
) -> None:
    """Write the statements granting ``access`` on the paths of ``value`` (a JSON list)."""
    paths = []
    for index, text in enumerate(ctx.paths(value, path, block)):
        reason = holdback(text) if holdback else None
        if reason is not None:
            ctx.warn((*path, index) if isinstance(value, list) else path, reason, block)
            continue
        paths.append(text)
    suffix = " file" if file else ""
    for verb in VERBS[access]:
        block.statement(f"{verb}{suffix}", paths)


def emit_denies(
    ctx: Context, block: Block, value: object, path: JsonPath, *, file: bool = False
) -> list[str]:
    """Write ``deny`` statements for the paths of ``value``; return the paths written."""
    paths = ctx.paths(value, path, block)
    block.statement("deny file" if file else "deny", paths)
    return paths


def covered_by(path: str, denies: dict[str, str]) -> str | None:
    """The name of the group whose deny equals or contains ``path`` (both normalised), if any."""
    try:
        template = normalize(path)
    except ValueError:
        return None
    for deny, group in denies.items():
        if template == deny or is_within(template, deny):
            return group
    return None
