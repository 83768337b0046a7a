"""Fold the paths a command touched into a few directory rules written with variables.

One rule per file would make a profile nobody can read, and one that breaks the next time
the command writes a file with a new name. So each access is first placed under the
deepest *root* that holds it: the working directory (``$CWD``), the temporary directory,
the XDG base directories, ``$HOME``, or the file system's root. Then, per root and access,
the directories involved are collapsed to their deepest common directory, never shallower
than the root's *floor*: ``$CWD`` and ``$TMPDIR`` may be granted whole, a home directory
only one level down (``$HOME/.npm``, never ``$HOME``), an absolute path two levels down
(``/opt/tool``, never ``/opt``). A file sitting above the floor gets a rule of its own
(``read file "$HOME/.gitconfig"``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from nonoc.learn.events import MODES, Mode

#: Roots by variable, with their floor (how many components below the root a tree grant
#: must reach at least). Ties between equally deep roots go to the earlier one.
ROOTS: tuple[tuple[str, str, int], ...] = (
    # (template, variable it expands from, floor)
    ("$XDG_RUNTIME_DIR", "XDG_RUNTIME_DIR", 1),
    ("$XDG_CACHE_HOME", "XDG_CACHE_HOME", 1),
    ("$XDG_CONFIG_HOME", "XDG_CONFIG_HOME", 1),
    ("$XDG_DATA_HOME", "XDG_DATA_HOME", 1),
    ("$XDG_STATE_HOME", "XDG_STATE_HOME", 1),
    ("$HOME/.local", "HOME", 1),  # ~/.local/bin and ~/.local/lib are unrelated trees
    ("$HOME", "HOME", 1),
    ("$CWD", "CWD", 0),
    ("$TMPDIR", "TMPDIR", 0),
)
#: The floor of a path under no variable.
ABSOLUTE_FLOOR = 2


@dataclass(frozen=True)
class Root:
    """A directory rules are written relative to: its template, host path and floor."""

    template: str
    host: str
    floor: int

    def template_for(self, components: tuple[str, ...]) -> str:
        """The template of the path ``components`` below this root."""
        if not components:
            return self.template or "/"
        return f"{self.template}/" + "/".join(components)


@dataclass(frozen=True)
class Rule:
    """A rule to write: ``template`` (tree unless ``file``) with ``modes``; ``host`` is its path here."""

    template: str
    host: str
    file: bool
    modes: frozenset[Mode]


@dataclass(frozen=True)
class Item:
    """One access to fold: a host path, the access, whether the path is a directory."""

    path: str
    mode: Mode
    directory: bool = False


def roots_for(values: Mapping[str, str]) -> list[Root]:
    """The roots on this host (variables resolved, symlinks followed), deepest first."""
    found: list[Root] = []
    for template, variable, floor in ROOTS:
        value = values.get(variable)
        if not value or not value.startswith("/"):
            continue
        suffix = template.split("/", 1)[1] if "/" in template else ""
        host = os.path.realpath(os.path.join(value, suffix) if suffix else value)
        if host == "/":
            continue
        found.append(Root(template, host, floor))
    order = {root.template: index for index, root in enumerate(found)}
    found.sort(key=lambda r: (-len(_parts(r.host)), order[r.template]))
    found.append(Root("", "/", ABSOLUTE_FLOOR))
    return found


def _parts(path: str) -> tuple[str, ...]:
    return tuple(p for p in path.split("/") if p)


def place(path: str, roots: Iterable[Root]) -> tuple[Root, tuple[str, ...]]:
    """The deepest root holding ``path`` and the components below it."""
    parts = _parts(path)
    for root in roots:
        base = _parts(root.host)
        if parts[: len(base)] == base:
            return root, parts[len(base) :]
    raise ValueError(f"no root holds {path}")  # not reached: "/" holds every absolute path


_PROC_PID = re.compile(r"^/proc/(\d+)(/.*)?$")


def normalize_proc(path: str, pids: Iterable[int]) -> str:
    """``/proc/<a traced pid>/x`` → ``/proc/self/x``: the same entry in the sandboxed run."""
    match = _PROC_PID.match(path)
    if match is not None and int(match.group(1)) in set(pids):
        return "/proc/self" + (match.group(2) or "")
    return path


def expressible(components: tuple[str, ...]) -> tuple[str, ...]:
    """The leading components a policy path can hold: a variable may only start a path."""
    for index, part in enumerate(components):
        if "$" in part:
            return components[:index]
    return components


def fold(items: Iterable[Item], roots: list[Root]) -> tuple[list[Rule], list[Item]]:
    """Fold ``items`` into rules; also return the directory items too broad to grant.

    A directory that sits above its root's floor (listing ``/`` or ``$HOME`` itself) is not
    granted: its tree would cover far more than the command used. It is returned so that the
    caller can say so.
    """
    groups: dict[tuple[str, Mode, tuple[str, ...]], tuple[Root, list[tuple[str, ...]]]] = {}
    singles: dict[tuple[str, bool], set[Mode]] = {}
    single_hosts: dict[tuple[str, bool], str] = {}
    too_broad: list[Item] = []
    for item in items:
        root, below = place(item.path, roots)
        writable = expressible(below)
        directory = below if item.directory else below[:-1]
        if len(writable) < len(below):
            # The language cannot name this path (a `$` in a component): grant its
            # deepest expressible directory instead, as a tree.
            directory = writable
            if len(directory) < root.floor:
                too_broad.append(Item(item.path, item.mode, True))
                continue
        elif len(directory) < root.floor:
            if item.directory:
                too_broad.append(item)
                continue
            key = (root.template_for(below), True)
            singles.setdefault(key, set()).add(item.mode)
            single_hosts[key] = item.path
            continue
        group_key = (root.template, item.mode, directory[: root.floor])
        groups.setdefault(group_key, (root, []))[1].append(directory)
    merged: dict[tuple[str, bool], set[Mode]] = {}
    hosts: dict[tuple[str, bool], str] = dict(single_hosts)
    for (_, mode, _), (root, directories) in groups.items():
        common = os.path.commonprefix(directories)  # noqa: RUF071 - on tuples: component-wise
        key = (root.template_for(tuple(common)), False)
        merged.setdefault(key, set()).add(mode)
        hosts[key] = os.path.join(root.host, *common) if common else root.host
    for key, modes in singles.items():
        merged.setdefault(key, set()).update(modes)
    rules = [Rule(t, hosts[(t, f)], f, frozenset(m)) for (t, f), m in merged.items()]
    return simplify(rules), too_broad


def simplify(rules: list[Rule]) -> list[Rule]:
    """Drop each access a broader rule already gives; sort the rest by template."""
    trees = [r for r in rules if not r.file]
    kept: list[Rule] = []
    for rule in rules:
        parts = _parts(rule.host)
        covered: set[Mode] = set()
        for other in trees:
            if other is rule:
                continue
            other_parts = _parts(other.host)
            inside = parts[: len(other_parts)] == other_parts
            # An equal tree covers a file rule of the same path, never another tree (itself).
            if inside and (len(parts) > len(other_parts) or rule.file):
                covered |= other.modes
        modes = rule.modes - covered
        if modes:
            kept.append(Rule(rule.template, rule.host, rule.file, frozenset(modes)))
    return sorted(kept, key=lambda r: (r.template, r.file))


def verbs(modes: frozenset[Mode]) -> list[str]:
    """The statements that grant ``modes``: ``allow`` is read and write; ``exec`` is separate."""
    words: list[str] = []
    if "read" in modes and "write" in modes:
        words.append("allow")
    elif "read" in modes:
        words.append("read")
    elif "write" in modes:
        words.append("write")
    if "exec" in modes:
        words.append("exec")
    return words


__all__ = [
    "MODES",
    "Item",
    "Root",
    "Rule",
    "fold",
    "normalize_proc",
    "place",
    "roots_for",
    "simplify",
    "verbs",
]
