"""Walk a profile's ``extends`` chain, its ``use``d groups and platform blocks into one layer.

The walk keeps the provenance chain (profile → extends → group …) of every rule, detects
``extends`` and ``use`` cycles (printing them, ``a -> b -> a``) and refuses chains deeper
than ``MAX_DEPTH``. Platform blocks for the other target are still checked (names, words,
paths) so that a profile's errors do not depend on the target it is compiled for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeVar, cast

from nonoc import ir
from nonoc.errors import NonoError, Span
from nonoc.resolve.layer import Layer, Scalar, override, siblings
from nonoc.resolve.rules import StatementLowering, check_platform
from nonoc.resolve.sources import LoadedFile, SourceSet
from nonoc.syntax import ast

T = TypeVar("T")

#: The deepest `extends` chain (and `use` nesting) accepted.
MAX_DEPTH = 10


@dataclass(frozen=True)
class _Frame:
    """One step of the walk, for cycle and depth reports."""

    kind: str
    name: str
    definition: ast.GroupDef | ast.ProfileDef


class Collector:
    """Collects the layer of a profile for one target."""

    def __init__(self, sources: SourceSet, target: ir.Target) -> None:
        self.sources = sources
        self.target = target

    # --- profiles -------------------------------------------------------------------------

    def profile(
        self,
        definition: ast.ProfileDef,
        file: LoadedFile,
        chain: tuple[ir.ChainLink, ...] = (),
        stack: tuple[_Frame, ...] = (),
        via: ast.Word | None = None,
    ) -> Layer:
        """The layer of ``definition``: its parents, overridden by its groups and body."""
        name = definition.name.text
        stack = self._enter(stack, _Frame("profile", name, definition), via)
        link_kind: Literal["extends", "profile"] = "extends" if chain else "profile"
        chain = (
            *chain,
            ir.ChainLink(kind=link_kind, name=name, file=file.display, line=definition.span.line),
        )
        inherited = Layer()
        for parent_word in definition.extends:
            parent, parent_file = self.sources.lookup(file, parent_word, "profile")
            assert isinstance(parent, ast.ProfileDef)
            inherited = override(
                inherited, self.profile(parent, parent_file, chain, stack, parent_word)
            )
        own = self.body(definition.body, file, chain, stack, pin=file.syntax.abi)
        return override(inherited, own)

    # --- groups ---------------------------------------------------------------------------

    def group(
        self,
        definition: ast.GroupDef,
        file: LoadedFile,
        chain: tuple[ir.ChainLink, ...],
        stack: tuple[_Frame, ...],
        via: ast.Word | None,
    ) -> Layer:
        """The layer of a group brought in by ``use`` (or as a mandatory group)."""
        stack = self._enter(stack, _Frame("group", definition.name.text, definition), via)
        chain = (
            *chain,
            ir.ChainLink(
                kind="group",
                name=definition.name.text,
                file=file.display,
                line=definition.span.line,
            ),
        )
        return self.body(definition.body, file, chain, stack, pin=None)

    def mandatory(
        self, files: list[LoadedFile], chain: tuple[ir.ChainLink, ...]
    ) -> tuple[Layer, list[str]]:
        """The layer of every mandatory group visible to ``files`` (and the stdlib's)."""
        found = self.sources.mandatory_groups(files)
        layers = [self.group(definition, owner, chain, (), None) for definition, owner in found]
        return siblings(layers, "mandatory groups"), sorted({d.name.text for d, _ in found})

    # --- bodies ---------------------------------------------------------------------------

    def body(
        self,
        statements: tuple[ast.Statement, ...],
        file: LoadedFile,
        chain: tuple[ir.ChainLink, ...],
        stack: tuple[_Frame, ...],
        pin: ast.Setting | None,
        display: str | None = None,
    ) -> Layer:
        """A body's layer: its groups (siblings), overridden by the file's pin, then its statements.

        Names are looked up from ``file``; rules are attributed to ``display`` (default: the file).
        """
        lowering = StatementLowering(display or file.display, chain)
        groups: list[Layer] = []
        own: list[Layer] = []
        self._statements(statements, file, chain, stack, lowering, groups, own, active=True)
        layer = siblings(groups, "groups")
        if pin is not None:
            layer = override(layer, lowering.lower(pin))
        return override(layer, siblings(own, "settings"))

    def _statements(
        self,
        statements: tuple[ast.Statement, ...],
        file: LoadedFile,
        chain: tuple[ir.ChainLink, ...],
        stack: tuple[_Frame, ...],
        lowering: StatementLowering,
        groups: list[Layer],
        own: list[Layer],
        active: bool,
    ) -> None:
        for stmt in statements:
            if isinstance(stmt, ast.PlatformBlock):
                platform = check_platform(stmt.platform)
                inner_active = active and platform == self.target
                self._statements(stmt.body, file, chain, stack, lowering, groups, own, inner_active)
            elif isinstance(stmt, ast.Use):
                for word in stmt.groups:
                    group, group_file = self.sources.lookup(file, word, "group")
                    assert isinstance(group, ast.GroupDef)
                    if active:
                        groups.append(self.group(group, group_file, chain, stack, word))
            else:
                layer = lowering.lower(stmt)
                if active:
                    own.append(layer)

    # --- cycles and depth -------------------------------------------------------------------

    def _enter(
        self, stack: tuple[_Frame, ...], frame: _Frame, via: ast.Word | None
    ) -> tuple[_Frame, ...]:
        """Push ``frame``; an already-open definition is a cycle, too many is too deep."""
        if any(f.definition is frame.definition for f in stack):
            start = next(i for i, f in enumerate(stack) if f.definition is frame.definition)
            path = " -> ".join(f.name for f in (*stack[start:], frame))
            word = "extends" if frame.kind == "profile" else "use"
            raise NonoError(
                f"{word} cycle: {path}", via.span if via else frame.definition.name.span
            )
        same_kind = [f for f in stack if f.kind == frame.kind]
        if len(same_kind) >= MAX_DEPTH + 1:
            path = " -> ".join(f.name for f in (*same_kind, frame))
            word = "extends chain" if frame.kind == "profile" else "group nesting"
            raise NonoError(
                f"{word} deeper than {MAX_DEPTH}: {path}",
                via.span if via else frame.definition.name.span,
            )
        return (*stack, frame)


def scalar_value(layer: Layer, key: str, default: T) -> T:
    """The value of a scalar in ``layer``, or ``default`` (whose type the value shares)."""
    scalar: Scalar | None = layer.scalars.get(key)
    return default if scalar is None else cast(T, scalar.value)


def span_of(provenance: ir.Provenance, sources: SourceSet) -> Span:
    """The span (with the source line, for a caret) of a rule's provenance."""
    line_text = None
    for file in sources.files.values():
        if file.display == provenance.file:
            lines = file.syntax.text.splitlines()
            if 0 < provenance.line <= len(lines):
                line_text = lines[provenance.line - 1]
            break
    return Span(provenance.file, provenance.line, provenance.column, None, line_text)
