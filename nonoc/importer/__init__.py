"""``nonoc import``: nono's JSON profiles and policy files → the policy language.

Three kinds of JSON document are understood:

- a **profile** (``{"extends": …, "filesystem": {…}, "network": {…}, …}``), which becomes
  one ``profile``;
- a **policy file** (``{"meta", "groups": {NAME: group}, "profiles": {NAME: profile}}``),
  whose groups become groups (``required`` ones mandatory) and whose profiles become
  profiles;
- a **network policy** (groups of ``hosts``/``suffixes``, ``profiles`` listing groups,
  ``credentials``), whose groups become host groups for ``network proxy``.

Public API::

    import_file(path, profile=None) -> Imported          # text + warnings
    import_document(data, source, profile=None) -> Imported
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nonoc.errors import Diagnostic, NonoError, Span, did_you_mean
from nonoc.importer.context import Context, items
from nonoc.importer.groups import group_block, group_name, network_profile_block, required_denies
from nonoc.importer.profiles import profile_block
from nonoc.importer.writer import Block, as_name, render_file

__all__ = ["Imported", "import_document", "import_file"]

#: Top-level keys that make a document a single profile rather than a policy file.
PROFILE_KEYS = frozenset(
    {
        "extends",
        "filesystem",
        "network",
        "workdir",
        "security",
        "undo",
        "interactive",
        "commands",
        "env",
        "hooks",
    }
)


@dataclass(frozen=True)
class Imported:
    """The policy text and the warnings about what could not be imported."""

    text: str
    warnings: tuple[Diagnostic, ...]
    kind: str  # "profile", "policy" or "network"


def import_file(path: str | os.PathLike[str], *, profile: str | None = None) -> Imported:
    """Read the JSON file at ``path`` and translate it (see ``import_document``)."""
    source = os.fspath(path)
    try:
        text = Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        raise NonoError(f"cannot read {source}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise NonoError(f"{source} is not UTF-8 text (byte {exc.start})", Span(source)) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        line_text = (
            text.splitlines()[exc.lineno - 1] if 0 < exc.lineno <= len(text.splitlines()) else None
        )
        raise NonoError(
            f"not valid JSON: {exc.msg}", Span(source, exc.lineno, exc.colno, None, line_text)
        ) from None
    stem = Path(source).stem
    return import_document(data, os.path.basename(source), profile=profile, default_name=stem)


def import_document(
    data: Any, source: str, *, profile: str | None = None, default_name: str = "imported"
) -> Imported:
    """Translate a parsed JSON document; ``source`` names it in warnings and the header.

    ``profile`` names the profile of a single-profile document, or chooses the one profile
    (with the parents it extends in the same file) to import from a policy file.
    """
    if not isinstance(data, dict):
        raise NonoError(f"{source}: expected a JSON object at the top level", Span(source))
    ctx = Context(source)
    root = Block()
    kind = document_kind(data)
    root.comment(f"Imported by `nonoc import` from {source} ({_kind_words[kind]}).")
    if kind != "network":
        root.comment("nono's JSON `read` and `readwrite` let programs run what they cover: each is")
        root.comment("imported with an `exec` beside it. Review every 'import warning' comment.")
    if kind == "profile":
        name = profile or _meta_name(ctx, data) or as_name(default_name)
        root.blank()
        profile_block(ctx, name, data, (), root)
    else:
        _policy_file(ctx, data, root, kind, profile)
    return Imported(render_file(root), tuple(ctx.warnings), kind)


_kind_words = {"profile": "a profile", "policy": "a policy file", "network": "a network policy"}


def document_kind(data: dict[str, Any]) -> str:
    """``profile``, ``policy`` or ``network``."""
    groups = data.get("groups")
    if PROFILE_KEYS & data.keys() or isinstance(groups, list):
        return "profile"
    if (
        isinstance(groups, dict)
        and groups
        and not all(isinstance(g, dict) for g in groups.values())
    ):
        return "profile"  # {"include": [...]}
    definitions = groups.values() if isinstance(groups, dict) else []
    if "credentials" in data or any(
        isinstance(g, dict) and ({"hosts", "suffixes"} & g.keys()) for g in definitions
    ):
        return "network"
    if "groups" in data or "profiles" in data:
        return "policy"
    return "profile"


def _meta_name(ctx: Context, data: dict[str, Any]) -> str | None:
    """The profile name ``meta.name`` gives, made valid (and reported if it had to change)."""
    meta = data.get("meta")
    name = meta.get("name") if isinstance(meta, dict) else None
    if not isinstance(name, str) or not name:
        return None
    return group_name(ctx, name, ("meta", "name"))


def _policy_file(
    ctx: Context, data: dict[str, Any], root: Block, kind: str, only: str | None
) -> None:
    raw_groups, raw_profiles = data.get("groups"), data.get("profiles")
    groups: dict[str, Any] = raw_groups if isinstance(raw_groups, dict) else {}
    profiles: dict[str, Any] = raw_profiles if isinstance(raw_profiles, dict) else {}
    chosen = _chosen_profiles(ctx, profiles, only) if only is not None else list(profiles)
    ctx.groups = {as_name(name) for name in groups}
    if kind == "network":
        ctx.groups |= {as_name(f"network_{name}") for name in profiles}
    else:
        ctx.profiles = {as_name(name) for name in chosen}
    denies = required_denies(groups) if kind == "policy" else {"linux": {}, "macos": {}}
    for key, value, where in items(ctx, data, ()):
        if key == "meta":
            facts = [f"{k} {v}" for k, v in value.items()] if isinstance(value, dict) else []
            if facts:
                root.comment("meta: " + ", ".join(facts))
        elif key == "groups":
            for name, group, at in items(ctx, value, where, root):
                root.blank()
                group_block(ctx, name, group, at, root, denies)
        elif key == "profiles":
            for name, body, at in items(ctx, value, where, root):
                if name not in chosen:
                    continue
                root.blank()
                if kind == "network":
                    network_profile_block(ctx, name, body, at, root)
                else:
                    profile_block(ctx, name, body, at, root)
        elif key == "credentials" and kind == "network":
            root.blank()
            for _name, route, at in items(ctx, value, where, root):
                upstream = route.get("upstream", "?") if isinstance(route, dict) else "?"
                ctx.warn(
                    at,
                    f"credential route to {upstream} has no statement in the policy language yet; not imported",
                    root,
                )
        else:
            root.blank()
            ctx.unknown(where, root)


def _chosen_profiles(ctx: Context, profiles: dict[str, Any], name: str) -> list[str]:
    """``name`` and the profiles of the same file it extends, transitively."""
    if name not in profiles:
        raise NonoError(
            f"{ctx.source} has no profile '{name}'{did_you_mean(name, set(profiles))}",
            Span(ctx.source),
            notes=(f"profiles: {', '.join(profiles) or 'none'}",),
        )
    chosen: list[str] = []
    todo = [name]
    while todo:
        current = todo.pop()
        if current in chosen or current not in profiles:
            continue
        chosen.append(current)
        body = profiles[current]
        parents = body.get("extends", []) if isinstance(body, dict) else []
        todo.extend(
            [parents] if isinstance(parents, str) else [p for p in parents if isinstance(p, str)]
        )
    return chosen
