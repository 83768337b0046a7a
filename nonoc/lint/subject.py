"""What the lint rules look at: one profile (or group) resolved for one target.

A ``Subject`` holds the resolved ``Policy`` (what the compiler would lower) and the raw
layer the front end merged it from (every rule as written, duplicates included, before
deny judgement), so that rules about *redundancy* can see what resolution folds away.

Profiles are resolved by ``nonoc.resolve.resolve`` itself: errors and warnings are the
compiler's own. A group has no entry point of its own in the compiler, so a group is
resolved as the body of a profile that only uses it (no mandatory groups): the same
collector and merge code, so its statements are checked exactly as a profile's would be.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from nonoc import ir
from nonoc.errors import Diagnostic, Span
from nonoc.paths import TemplateError, normalize
from nonoc.resolve import resolve
from nonoc.resolve.collect import Collector, span_of
from nonoc.resolve.layer import Layer, override
from nonoc.resolve.merge import PolicyBuilder
from nonoc.resolve.sources import LoadedFile, SourceSet
from nonoc.syntax import ast


@dataclass
class Subject:
    """A profile or group resolved for one target, with what the lint rules need around it."""

    kind: str  # "profile" or "group"
    name: str
    file: str  # display name of the defining file
    target: ir.Target
    policy: ir.Policy
    layer: Layer
    sources: SourceSet
    #: Front-end warnings met while resolving.
    diagnostics: list[Diagnostic] = field(default_factory=list)
    _index: dict[tuple[str, int, int], ast.Statement] | None = field(default=None, repr=False)

    def span(self, provenance: ir.Provenance, path: str | None = None) -> Span:
        """The span of a rule, with its source line (for the caret).

        With ``path`` (a normalised template), the span of that path's quoted string in the
        statement, so that the caret points at the one path of a list that is meant.
        """
        statement = self._statements().get((provenance.file, provenance.line, provenance.column))
        if path is not None and isinstance(statement, (ast.PathRule, ast.DenyRule)):
            for text in statement.paths:
                try:
                    same = normalize(text.value) == path
                except TemplateError:
                    continue
                if same:
                    return text.span
        return span_of(provenance, self.sources)

    def _statements(self) -> dict[tuple[str, int, int], ast.Statement]:
        """Every statement of every file read, by position (built on first use)."""
        if self._index is None:
            self._index = {}
            for file in self.sources.files.values():
                definitions: list[ast.GroupDef | ast.ProfileDef] = [
                    *file.syntax.groups,
                    *file.syntax.profiles,
                ]
                for definition in definitions:
                    self._add(file.display, definition.body)
        return self._index

    def _add(self, display: str, body: tuple[ast.Statement, ...]) -> None:
        assert self._index is not None
        for stmt in body:
            self._index[(display, stmt.span.line, stmt.span.column)] = stmt
            if isinstance(stmt, ast.PlatformBlock):
                self._add(display, stmt.body)


def resolve_profile(path: str, name: str, target: ir.Target) -> Subject:
    """Resolve profile ``name`` of the file at ``path`` as the compiler does.

    Raises ``NonoError`` exactly when ``nonoc compile`` would refuse the profile in the
    front end.
    """
    resolution = resolve(path, target, profile=name)
    sources = SourceSet()
    root = sources.load_path(Path(path), path)
    definition = next(p for p in root.syntax.profiles if p.name.text == name)
    collector = Collector(sources, target)
    own = collector.profile(definition, root)
    chain = (ir.ChainLink(kind="profile", name=name, file=root.display, line=definition.span.line),)
    mandatory, _ = collector.mandatory(list(sources.files.values()), chain)
    return Subject(
        kind="profile",
        name=name,
        file=root.display,
        target=target,
        policy=resolution.policy,
        layer=override(own, mandatory),
        sources=sources,
        diagnostics=list(resolution.diagnostics),
    )


def resolve_group(
    sources: SourceSet, file: LoadedFile, group: ast.GroupDef, target: ir.Target
) -> Subject:
    """Resolve ``group`` on its own (as a profile whose body is ``use group``)."""
    collector = Collector(sources, target)
    layer = collector.group(group, file, (), (), None)
    diagnostics: list[Diagnostic] = []
    policy = PolicyBuilder(sources, diagnostics).build(
        name=group.name.text,
        description=group.description,
        target=target,
        layer=layer,
        mandatory=[],
    )
    return Subject(
        kind="group",
        name=group.name.text,
        file=file.display,
        target=target,
        policy=policy,
        layer=layer,
        sources=sources,
        diagnostics=diagnostics,
    )
