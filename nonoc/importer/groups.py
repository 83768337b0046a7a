"""Groups of nono's policy files: filesystem groups and network host groups.

A filesystem group (``nono-policy.json``)::

    {"description": "...", "required": true, "platform": "linux",
     "allow": {"read": [...], "write": [...], "readwrite": [...]},
     "deny": {"access": [...], "commands": [...], "unlink": true}, "symlink_pairs": {...}}

becomes ``[mandatory] group NAME "description" { [on linux {] ... [}] }``; ``required``
groups are mandatory (applied to every profile of the file, never excluded).

A host group (``nono-network-policy.json``), ``{"description", "hosts", "suffixes"}``,
becomes a group holding ``network proxy { allow ... }``; a suffix ``.example.com`` is the
pattern ``*.example.com``. A network profile, ``{"groups": [...]}``, becomes a group
``network_NAME`` that uses them.
"""

from __future__ import annotations

from typing import Any

from nonoc.importer.context import Context, JsonPath, items
from nonoc.importer.grants import Holdback, covered_by, emit_denies, emit_grants
from nonoc.importer.writer import Block, as_name, is_name
from nonoc.paths import normalize
from nonoc.syntax.literal import quote

PLATFORMS = ("linux", "macos")


def group_name(ctx: Context, name: str, path: JsonPath) -> str:
    """``name`` as a policy name; a name that had to change is reported."""
    if is_name(name):
        return name
    fixed = as_name(name)
    ctx.warn(path, f"'{name}' is not a valid name in the policy language; imported as '{fixed}'")
    return fixed


def required_denies(groups: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Per platform, ``{normalised deny path: group}`` of the required groups.

    In nono's JSON a grant in an ordinary group can open a path that a required group
    denies; in the policy language a deny always wins and a grant of exactly a denied path
    is an error. The importer holds such grants back (and says so) instead.
    """
    found: dict[str, dict[str, str]] = {platform: {} for platform in PLATFORMS}
    for name, data in groups.items():
        if not isinstance(data, dict) or data.get("required") is not True:
            continue
        deny = data.get("deny")
        access = deny.get("access") if isinstance(deny, dict) else None
        platform = data.get("platform")
        targets = [platform] if platform in PLATFORMS else list(PLATFORMS)
        for text in access if isinstance(access, list) else []:
            try:
                template = normalize(text) if isinstance(text, str) else None
            except ValueError:
                template = None
            if template is not None:
                for target in targets:
                    found[target].setdefault(template, name)
    return found


def group_block(
    ctx: Context,
    name: str,
    data: Any,
    path: JsonPath,
    parent: Block,
    denies: dict[str, dict[str, str]],
) -> None:
    """Translate one group definition into ``parent``."""
    if not ctx.expect(data, dict, path, parent):
        return
    policy_name = group_name(ctx, name, path)
    description = data.get("description", "")
    if not isinstance(description, str):
        ctx.warn((*path, "description"), "expected a string; not imported")
        description = ""
    required = data.get("required", False)
    if not isinstance(required, bool):
        ctx.warn((*path, "required"), "expected true or false; imported as false")
        required = False
    platform = data.get("platform")
    if platform is not None and platform not in PLATFORMS:
        ctx.warn(
            (*path, "platform"),
            f"unknown platform {platform!r} (known: linux, macos); group not imported",
            parent,
        )
        return
    header = f"{'mandatory ' if required else ''}group {policy_name}"
    if description:
        header += f" {quote(description)}"
    outer = parent.child(header)
    body = outer.child(f"on {platform}") if platform else outer
    holdback = None if required else _holdback(platform, denies)
    hosts: list[str] = []
    for key, value, where in items(ctx, data, path):
        if key in ("description", "required", "platform"):
            continue
        if key == "allow":
            _allow(ctx, value, where, body, holdback)
        elif key == "deny":
            _deny(ctx, value, where, body)
        elif key == "symlink_pairs":
            ctx.warn(
                where, "not needed: the launcher resolves symbolic links on the host itself", body
            )
        elif key in ("hosts", "suffixes"):
            hosts += _hosts(ctx, key, value, where, body)
        elif key == "groups":
            names = [
                group_name(ctx, g, (*where, i))
                for i, g in enumerate(ctx.strings(value, where, body))
            ]
            if names:
                body.names("use", names)
        else:
            ctx.unknown(where, body)
    if hosts:
        body.child("network proxy").statement("allow", hosts)


def network_profile_block(
    ctx: Context, name: str, data: Any, path: JsonPath, parent: Block
) -> None:
    """A profile of nono's network policy (``{"groups": [...]}``) as a group ``network_NAME``."""
    if not ctx.expect(data, dict, path, parent):
        return
    block = parent.child(
        f"group {as_name('network_' + name)} {quote(f'Network profile {name}: the hosts of its groups')}"
    )
    for key, value, where in items(ctx, data, path):
        if key == "groups":
            names = [
                group_name(ctx, g, (*where, i))
                for i, g in enumerate(ctx.strings(value, where, block))
            ]
            if names:
                block.names("use", names)
        elif key == "description" and isinstance(value, str):
            block.comment(value)
        else:
            ctx.unknown(where, block)


def _holdback(platform: str | None, denies: dict[str, dict[str, str]]) -> Holdback:
    """Grants that a required group denies are held back (see ``required_denies``)."""
    targets = [platform] if platform else list(PLATFORMS)

    def check(text: str) -> str | None:
        for target in targets:
            owner = covered_by(text, denies[target])
            if owner is not None:
                return (
                    f'grant of "{text}" not imported: required group {owner} denies it, and in the '
                    "policy language a deny always wins (nono's JSON lets this grant open it)"
                )
        return None

    return check


def _allow(
    ctx: Context, value: Any, path: JsonPath, block: Block, holdback: Holdback | None
) -> None:
    for access, paths, where in items(ctx, value, path, block):
        if access in ("read", "write", "readwrite", "exec", "execute"):
            emit_grants(ctx, block, access, paths, where, holdback=holdback)
        else:
            ctx.unknown(where, block)


def _deny(ctx: Context, value: Any, path: JsonPath, block: Block) -> None:
    for key, inner, where in items(ctx, value, path, block):
        if key == "access":
            emit_denies(ctx, block, inner, where)
        elif key == "commands":
            block.statement("command block", ctx.strings(inner, where, block))
        elif key in ("unlink", "unlink_override_for_user_writable"):
            if inner is True:
                ctx.warn(
                    where,
                    "no statement for this: deletion is part of `write` in the policy language, "
                    "and the kernel refuses it outside the trees granted write",
                    block,
                )
            elif inner is not False:
                ctx.expect(inner, bool, where, block)
        else:
            ctx.unknown(where, block)


def _hosts(ctx: Context, key: str, value: Any, path: JsonPath, block: Block) -> list[str]:
    """Host patterns: names as they are, a suffix ``.example.com`` as ``*.example.com``."""
    hosts = ctx.strings(value, path, block)
    if key == "suffixes":
        hosts = ["*." + host.lstrip("*").lstrip(".") for host in hosts]
    return hosts
