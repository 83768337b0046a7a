"""A layer: what one body (a profile's, a group's) contributes, before merging.

Lists (grants, denies, ports, syscall rules…) are unions: every layer's entries are kept.
Scalars (network mode, compat, abi, deny_inside_allow, rollback, scopes, ``env set``) follow
the ``extends`` merge rules: a more specific layer *overrides* a less specific one (a child
over its parents, a later parent over an earlier one, a body over the groups it uses),
while two *siblings* that disagree (two statements in one body, two groups used side by
side) are a conflict, because no order between them is meaningful.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nonoc import ir
from nonoc.errors import NonoError, Span

#: Code of the error for two sibling settings that disagree (stable, for tools); its
#: ``related`` span is the other setting.
CONFLICTING_SETTINGS = "conflicting-settings"


@dataclass(frozen=True)
class Scalar:
    """One scalar setting: its value, how it was written, and where."""

    value: Any
    label: str
    span: Span
    provenance: ir.Provenance


@dataclass
class Layer:
    """Everything one body contributes (or, after merging, a whole profile)."""

    grants: list[ir.PathGrant] = field(default_factory=list)
    denies: list[ir.PathDeny] = field(default_factory=list)
    ports: list[ir.PortRule] = field(default_factory=list)
    hosts: list[ir.HostRule] = field(default_factory=list)
    syscalls: list[ir.SyscallRule] = field(default_factory=list)
    unix_sockets: list[ir.UnixSocketGrant] = field(default_factory=list)
    assertions: list[ir.Assertion] = field(default_factory=list)
    env_keep: list[tuple[str, ir.Provenance]] = field(default_factory=list)
    blocked_commands: list[tuple[str, ir.Provenance]] = field(default_factory=list)
    allowed_commands: list[tuple[str, ir.Provenance]] = field(default_factory=list)
    protect_metadata: list[ir.Provenance] = field(default_factory=list)
    scalars: dict[str, Scalar] = field(default_factory=dict)

    def add_lists(self, other: Layer) -> None:
        """Append ``other``'s list entries (a union; duplicates go at the end)."""
        self.grants.extend(other.grants)
        self.denies.extend(other.denies)
        self.ports.extend(other.ports)
        self.hosts.extend(other.hosts)
        self.syscalls.extend(other.syscalls)
        self.unix_sockets.extend(other.unix_sockets)
        self.assertions.extend(other.assertions)
        self.env_keep.extend(other.env_keep)
        self.blocked_commands.extend(other.blocked_commands)
        self.allowed_commands.extend(other.allowed_commands)
        self.protect_metadata.extend(other.protect_metadata)


def override(base: Layer, top: Layer) -> Layer:
    """``top`` layered over ``base``: lists unite, ``top``'s scalars win."""
    merged = Layer()
    merged.add_lists(base)
    merged.add_lists(top)
    merged.scalars = {**base.scalars, **top.scalars}
    return merged


def siblings(layers: list[Layer], what: str) -> Layer:
    """Layers with no order between them: lists unite; scalars must agree.

    ``what`` names the siblings in the error (``statements``, ``groups``).
    """
    merged = Layer()
    for layer in layers:
        merged.add_lists(layer)
        for key, scalar in layer.scalars.items():
            known = merged.scalars.get(key)
            if known is None:
                merged.scalars[key] = scalar
            elif known.value != scalar.value:
                first, second = sorted((known, scalar), key=lambda s: _span_key(s.span))
                raise NonoError(
                    f"conflicting {what}: '{second.label}' here, but '{first.label}' at {first.span.location()}",
                    second.span,
                    notes=(f"a setting given twice at the same level must agree ({key})",),
                    code=CONFLICTING_SETTINGS,
                    related=(first.span,),
                )
            elif _span_key(scalar.span) < _span_key(known.span):
                merged.scalars[key] = scalar
    return merged


def _span_key(span: Span) -> tuple[str, int, int]:
    return (span.file, span.line, span.column)
