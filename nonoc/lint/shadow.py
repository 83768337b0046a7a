"""``shadowed-rule``: a grant that changes nothing because another grant already covers it.

Compared on the raw layer (every statement as written, before the front end folds
duplicates away), one entry per statement and path:

* the same path granted twice with the same access (the later one is reported; a rule
  in a checked file is reported rather than one in a library it uses);
* a grant inside a granted tree with no access the tree lacks: a file in a tree
  (``read file "/x/y"`` in ``read "/x"``), or a tree in a tree.

A ``require``d grant inside an optional one is not redundant (it adds the requirement),
and a grant the front end dropped because a deny covers it is left to the front end's
own warning.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from nonoc import ir, paths
from nonoc.lint.findings import Finding, finding, via
from nonoc.lint.subject import Subject
from nonoc.resolve.merge import provenance_key


@dataclass
class _Statement:
    """One statement's grant of one path (``readwrite`` lowers to two IR grants)."""

    path: str
    kind: ir.PathKind
    provenance: ir.Provenance
    access: set[ir.Access] = field(default_factory=set)
    optional: bool = True


def check(subject: Subject, checked: frozenset[str]) -> Iterator[Finding]:
    """A warning for each statement whose every access another statement already grants."""
    effective = {(g.path, g.kind, g.access) for g in subject.policy.grants}
    statements: dict[tuple[object, ...], _Statement] = {}
    for grant in subject.layer.grants:
        if (grant.path, grant.kind, grant.access) not in effective:
            continue
        prov = grant.provenance
        key = (prov.file, prov.line, prov.column, grant.path, grant.kind)
        entry = statements.setdefault(key, _Statement(grant.path, grant.kind, prov))
        entry.access |= grant.access
        entry.optional = entry.optional and grant.optional
    entries = sorted(statements.values(), key=lambda s: _rank(s, checked))
    for index, entry in enumerate(entries):
        covering: list[_Statement] = []
        for access in entry.access:
            found = [
                other
                for position, other in enumerate(entries)
                if other is not entry
                and access in other.access
                and _covers(other, entry, before=position < index)
            ]
            if not found:
                break
            covering.extend(o for o in found if o not in covering)
        else:
            yield _report(subject, entry, covering)


def _rank(statement: _Statement, checked: frozenset[str]) -> tuple[object, ...]:
    # Library rules (in files not being checked) sort first: they are the ones kept.
    return (statement.provenance.file in checked, provenance_key(statement.provenance))


def _covers(outer: _Statement, inner: _Statement, *, before: bool) -> bool:
    """Whether ``outer`` grants ``inner``'s path, so that ``inner`` adds nothing."""
    if not inner.optional and outer.optional:
        return False
    if outer.path == inner.path:
        if outer.kind is inner.kind:
            return before  # duplicates: only the later one is redundant
        return outer.kind is ir.PathKind.TREE
    return outer.kind is ir.PathKind.TREE and paths.is_within(inner.path, outer.path) is True


def _report(subject: Subject, entry: _Statement, covering: list[_Statement]) -> Finding:
    verbs = " and ".join(sorted(a.value for a in entry.access))
    what = "file" if entry.kind is ir.PathKind.FILE else "tree"
    first = covering[0]
    where = first.provenance.location()
    if first.path == entry.path and first.kind is entry.kind:
        message = (
            f"{verbs} of {entry.path} is granted twice; this one changes nothing (first at {where})"
        )
    else:
        message = (
            f"{verbs} of {what} {entry.path} is already covered by the grant of {first.path} "
            f"at {where}; this rule changes nothing"
        )
    return finding(
        "shadowed-rule",
        message,
        subject.span(entry.provenance, entry.path),
        notes=tuple(
            f"{', '.join(sorted(a.value for a in o.access))} of {o.path} at "
            f"{o.provenance.location()}{via(o.provenance.chain)}"
            for o in covering
        ),
        target=subject.target,
        related=tuple(subject.span(o.provenance) for o in covering),
    )
