"""One nono JSON profile → one ``profile`` definition.

Keys understood: ``meta`` (name, description, version, author), ``extends``, ``groups``
(a list, or ``include``; ``exclude`` cannot be expressed), ``filesystem``
(``allow``/``read``/``write``/``readwrite``/``deny`` and their ``*_file`` forms),
``network`` (``block``, allowed hosts), ``workdir.access``, ``security.signal_mode``,
``commands`` and ``env``. Everything else is reported with its JSON path.
"""

from __future__ import annotations

import json
from typing import Any

from nonoc.importer import names
from nonoc.importer.context import Context, JsonPath, items
from nonoc.importer.grants import VERBS, emit_denies, emit_grants
from nonoc.importer.groups import group_name
from nonoc.importer.writer import Block
from nonoc.syntax.literal import quote

#: ``workdir.access`` → the verbs granted on ``$CWD``.
WORKDIR = {
    "none": (),
    "read": ("read", "exec"),
    "write": ("write",),
    "readwrite": ("allow", "exec"),
}
#: Keys with no statement in the policy language, and why.
NOT_EXPRESSIBLE = {
    "undo": "rollback exclusions have no statement; `rollback on` snapshots everything but .gitignore'd files",
    "interactive": "no statement: the launcher passes the terminal through in every profile",
    "unsafe_macos_seatbelt_rules": (
        "raw Seatbelt rules cannot be imported: "
        "the policy language compiles for Linux and macOS alike"
    ),
    "hooks": "hooks have no statement in the policy language",
    "secrets": "secrets have no statement in the policy language; use nono's credential routes",
}


def profile_block(ctx: Context, name: str, data: Any, path: JsonPath, parent: Block) -> None:
    """Translate one profile into ``parent`` under ``name``."""
    if not ctx.expect(data, dict, path, parent):
        return
    block = Block(depth=parent.depth + 1)
    parents: list[str] = []
    description = ""
    for key, value, where in items(ctx, data, path):
        if key == "meta":
            description = _meta(ctx, value, where, block)
        elif key == "extends":
            listed = ctx.strings(value, where, block)
            spots = [where if isinstance(value, str) else (*where, i) for i in range(len(listed))]
            parents, extra = names.parents(ctx, list(zip(listed, spots, strict=True)), ctx.profiles)
            if extra:
                block.names("use", extra)
        elif key == "groups":
            _groups(ctx, value, where, block)
        elif key == "filesystem":
            _filesystem(ctx, value, where, block)
        elif key == "workdir":
            _workdir(ctx, value, where, block)
        elif key == "network":
            _network(ctx, value, where, block)
        elif key == "security":
            _security(ctx, value, where, block)
        elif key == "commands":
            _commands(ctx, value, where, block)
        elif key == "env":
            _env(ctx, value, where, block)
        elif key in NOT_EXPRESSIBLE:
            ctx.warn(where, NOT_EXPRESSIBLE[key], block)
        else:
            ctx.unknown(where, block)
    header = f"profile {group_name(ctx, name, path)}"
    if parents:
        header += " extends " + ", ".join(parents)
    if description:
        header += f" {quote(description)}"
    block.header = header
    parent.items.append(block)


def _meta(ctx: Context, value: Any, path: JsonPath, block: Block) -> str:
    """The description; version and author become a comment."""
    description = ""
    facts = []
    for key, inner, where in items(ctx, value, path, block):
        if key == "description" and isinstance(inner, str):
            description = inner
        elif key == "name" and isinstance(inner, str):
            continue  # the profile's name, chosen by the caller
        elif key in ("version", "author", "schema_version") and isinstance(inner, str | int):
            facts.append(f"{key} {inner}")
        else:
            ctx.unknown(where, block)
    if facts:
        block.comment(", ".join(facts))
    return description


def _groups(ctx: Context, value: Any, path: JsonPath, block: Block) -> None:
    listed: list[tuple[str, JsonPath]] = []
    if isinstance(value, list):
        listed = [(g, (*path, i)) for i, g in enumerate(ctx.strings(value, path, block))]
    else:
        for key, inner, where in items(ctx, value, path, block):
            if key == "include":
                listed += [(g, (*where, i)) for i, g in enumerate(ctx.strings(inner, where, block))]
            elif key == "exclude":
                excluded = ctx.strings(inner, where, block)
                if excluded:
                    ctx.warn(
                        where,
                        f"cannot exclude {', '.join(excluded)}: a profile cannot remove a group "
                        "that a parent uses (leave it out of the parent instead)",
                        block,
                    )
            else:
                ctx.unknown(where, block)
    named = [(group_name(ctx, g, where), where) for g, where in listed]
    used = names.groups(ctx, named, ctx.groups)
    if used:
        block.names("use", used)


def _filesystem(ctx: Context, value: Any, path: JsonPath, block: Block) -> None:
    for key, inner, where in items(ctx, value, path, block):
        access, _, suffix = key.partition("_")
        file = suffix == "file"
        if suffix not in ("", "file"):
            ctx.unknown(where, block)
        elif access == "deny":
            emit_denies(ctx, block, inner, where, file=file)
        elif access in VERBS:
            emit_grants(ctx, block, access, inner, where, file=file)
        else:
            ctx.unknown(where, block)


def _workdir(ctx: Context, value: Any, path: JsonPath, block: Block) -> None:
    for key, inner, where in items(ctx, value, path, block):
        if key == "access" and inner in WORKDIR:
            for verb in WORKDIR[inner]:
                block.statement(verb, ["$CWD"])
        elif key == "access":
            ctx.warn(
                where,
                f"unknown access {json.dumps(inner)} (known: {', '.join(WORKDIR)}); not imported",
                block,
            )
        else:
            ctx.unknown(where, block)


def _network(ctx: Context, value: Any, path: JsonPath, block: Block) -> None:
    hosts: list[str] = []
    mode = None
    for key, inner, where in items(ctx, value, path, block):
        if key == "block":
            if ctx.expect(inner, bool, where, block):
                mode = "block" if inner else "open"
        elif key in ("allow_domain", "allow_domains", "allowed_hosts", "hosts", "proxy_allow"):
            hosts += ctx.strings(inner, where, block)
        elif key == "network_profile":
            ctx.warn(
                where,
                f"network profile {json.dumps(inner)} lives in nono's network policy: import that file "
                f"with `nonoc import` and use its group network_{inner}",
                block,
            )
        else:
            ctx.unknown(where, block)
    if hosts:
        if mode == "block":
            ctx.warn((*path, "block"), "allowed hosts given: imported as `network proxy`", block)
        block.child("network proxy").statement("allow", hosts)
    elif mode is not None:
        block.line(f"network {mode}")


def _security(ctx: Context, value: Any, path: JsonPath, block: Block) -> None:
    for key, inner, where in items(ctx, value, path, block):
        if key == "signal_mode" and inner == "isolated":
            block.line("scope signal on")
        elif key == "signal_mode" and inner in ("allow", "allowed", "open", "inherit"):
            block.line("scope signal off")
        elif key == "capability_elevation" and inner is False:
            block.comment("capability_elevation false: nono exec always sets no_new_privs")
        else:
            ctx.warn(where, f"no statement for {key} = {json.dumps(inner)}; not imported", block)


def _commands(ctx: Context, value: Any, path: JsonPath, block: Block) -> None:
    for key, inner, where in items(ctx, value, path, block):
        if key in ("deny", "block"):
            block.statement("command block", ctx.strings(inner, where, block))
        elif key == "allow":
            block.statement("command allow", ctx.strings(inner, where, block))
        else:
            ctx.unknown(where, block)


def _env(ctx: Context, value: Any, path: JsonPath, block: Block) -> None:
    for key, inner, where in items(ctx, value, path, block):
        if key in ("keep", "allow", "pass"):
            block.statement("env keep", ctx.strings(inner, where, block))
        elif key == "set":
            for name, text, at in items(ctx, inner, where, block):
                if isinstance(text, str):
                    block.line(f"env set {quote(name)} {quote(text)}")
                else:
                    ctx.warn(at, "expected a string value; not imported", block)
        else:
            ctx.unknown(where, block)
