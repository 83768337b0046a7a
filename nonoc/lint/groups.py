"""``unused-group``: a group defined in a checked file that no checked file ``use``s.

Uses are looked up the way the compiler looks names up (from the file where ``use`` is
written: its own names, its imports', the standard library's), through groups that use
groups, in every platform block. Not reported: mandatory groups (applied to every profile
without a ``use``) and the shipped standard library's groups, which exist to be used by
profiles elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from nonoc.errors import NonoError
from nonoc.lint.findings import Finding, finding
from nonoc.resolve.sources import LoadedFile, SourceSet
from nonoc.syntax import ast


def check(sources: SourceSet, checked: Iterable[LoadedFile]) -> Iterator[Finding]:
    """A warning for each group of ``checked`` that nothing in ``sources`` uses."""
    used: set[int] = set()
    for file in list(sources.files.values()):
        definitions: list[ast.GroupDef | ast.ProfileDef] = [
            *file.syntax.groups,
            *file.syntax.profiles,
        ]
        for definition in definitions:
            for word in _uses(definition.body):
                try:
                    group, _ = sources.lookup(file, word, "group")
                except NonoError:
                    continue  # reported by the file's own resolution
                used.add(id(group))
    for file in checked:
        if file.display.startswith("stdlib/"):
            continue
        for group in file.syntax.groups:
            if group.mandatory or id(group) in used:
                continue
            yield finding(
                "unused-group",
                f"group '{group.name.text}' is defined but never used in the checked files",
                group.name.span,
                notes=("bring it in with `use " + group.name.text + "`, or remove it",),
            )


def _uses(body: tuple[ast.Statement, ...]) -> Iterator[ast.Word]:
    for stmt in body:
        if isinstance(stmt, ast.Use):
            yield from stmt.groups
        elif isinstance(stmt, ast.PlatformBlock):
            yield from _uses(stmt.body)
