"""``unenforceable-deny``: what a target cannot enforce as written, and what happens instead.

On Linux, Landlock can only *allow*: a rule on a tree covers everything beneath it, so a
deny inside a granted tree cannot be a Landlock rule. Under ``deny_inside_allow split``
(the default) the launcher grants the tree's other entries one by one around the denied
path; the directories on the way get no right at all, so nothing new can be created
directly in them and listing them fails. That is a change of behaviour worth seeing
before launch. When the two paths start from different variables (``/home`` and
``$HOME/.ssh``) only the host can tell: this rule expands both on *this* host.

Also on Linux: ``protect metadata`` has no Landlock right behind it (chmod, utimes and
xattr calls are not mediated): only ``nono run``'s supervisor enforces it, so a bundle run
by ``nono exec`` alone does not.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from nonoc import ir, paths
from nonoc.lint.findings import Finding, finding, via
from nonoc.lint.subject import Subject


def check(subject: Subject, checked: frozenset[str]) -> Iterator[Finding]:
    """Findings for the Linux target; Seatbelt enforces denies inside grants natively."""
    if subject.target != "linux":
        return
    policy = subject.policy
    host = _HostPaths(paths.host_variables())
    trees = _trees(policy)
    by_deny: dict[
        tuple[object, ...], tuple[ir.PathDeny, list[tuple[ir.PathGrant, list[str], str]]]
    ] = {}
    by_grant: dict[tuple[object, ...], tuple[ir.PathGrant, list[ir.PathDeny]]] = {}
    for deny in policy.denies:
        if policy.deny_strategy is ir.DenyStrategy.REFUSE:
            continue  # the Landlock backend refuses these with an error already
        for grant, accesses in trees:
            if grant.path == deny.path:
                continue
            inside = paths.is_within(deny.path, grant.path)
            on_host = ""
            if inside is None:
                inside = _within_on_host(deny.path, grant.path, host)
                on_host = " (on this host)"
            if not inside:
                continue
            # Point at whichever rule the user can edit: the deny, else the grant.
            if deny.provenance.file in checked:
                by_deny.setdefault(_key(deny.provenance, deny.path), (deny, []))[1].append(
                    (grant, accesses, on_host)
                )
            else:
                by_grant.setdefault(_key(grant.provenance, grant.path), (grant, []))[1].append(deny)
    for deny, around in by_deny.values():
        yield _split_at_deny(subject, deny, around)
    for grant, inner in by_grant.values():
        yield _split_at_grant(subject, grant, inner)
    for provenance in subject.layer.protect_metadata:
        yield finding(
            "unenforceable-deny",
            "`protect metadata` has no Landlock right behind it: on Linux only `nono run`'s "
            "supervisor enforces it; `nono exec` of the bundle alone leaves chmod, chown, "
            "utimes and extended attributes open",
            subject.span(provenance),
            notes=(
                (
                    "to hold under `nono exec` too, deny the calls with seccomp rules, e.g. "
                    "`syscall chmod, fchmod, fchmodat, fchmodat2 deny`"
                ),
            ),
            target="linux",
        )


_SPLIT_NOTES = (
    (
        "the directories on the way to a denied path get no right: nothing new can be "
        "created directly in them and listing them fails"
    ),
    "to refuse to start instead, set `deny_inside_allow refuse`",
)
#: How many denies a grant's finding lists by name.
_LISTED = 5


def _split_at_deny(
    subject: Subject, deny: ir.PathDeny, around: list[tuple[ir.PathGrant, list[str], str]]
) -> Finding:
    """One finding at a deny, naming every granted tree it lies in."""
    trees = ", ".join(dict.fromkeys(grant.path for grant, _, _ in around))
    return finding(
        "unenforceable-deny",
        f"deny of {deny.path} lies inside granted tree {trees}: Landlock cannot deny inside "
        f"an allowed tree, so the launcher will split {trees} around it (deny_inside_allow split)",
        subject.span(deny.provenance, deny.path),
        notes=(
            *(
                f"{', '.join(accesses)} of {grant.path}{on_host} granted at "
                f"{grant.provenance.location()}{via(grant.provenance.chain)}"
                for grant, accesses, on_host in around
            ),
            *_SPLIT_NOTES,
        ),
        target="linux",
        related=tuple(subject.span(grant.provenance) for grant, _, _ in around),
    )


def _split_at_grant(subject: Subject, grant: ir.PathGrant, inner: list[ir.PathDeny]) -> Finding:
    """One finding at a grant, naming the denies (written elsewhere) that lie inside it."""
    names = [d.path for d in inner[:_LISTED]]
    more = f" and {len(inner) - _LISTED} more" if len(inner) > _LISTED else ""
    plural = "denies lie" if len(inner) > 1 else "deny lies"
    return finding(
        "unenforceable-deny",
        f"{len(inner)} {plural} inside the grant of {grant.path} ({', '.join(names)}{more}): "
        f"Landlock cannot deny inside an allowed tree, so the launcher will split {grant.path} "
        "around them (deny_inside_allow split)",
        subject.span(grant.provenance, grant.path),
        notes=(
            *(
                f"deny of {d.path} at {d.provenance.location()}{via(d.provenance.chain)}"
                for d in inner[:_LISTED]
            ),
            *_SPLIT_NOTES,
        ),
        target="linux",
        related=tuple(subject.span(d.provenance) for d in inner[:_LISTED]),
    )


def _key(provenance: ir.Provenance, path: str) -> tuple[object, ...]:
    return (provenance.file, provenance.line, provenance.column, path)


def _trees(policy: ir.Policy) -> list[tuple[ir.PathGrant, list[str]]]:
    """Tree grants, one per statement and path (``readwrite`` lowers to two grants)."""
    found: dict[tuple[object, ...], tuple[ir.PathGrant, set[str]]] = {}
    for grant in policy.grants:
        if grant.kind is not ir.PathKind.TREE:
            continue
        prov = grant.provenance
        key = (grant.path, prov.file, prov.line, prov.column)
        entry = found.setdefault(key, (grant, set()))
        entry[1].update(a.value for a in grant.access)
    return [(grant, sorted(accesses)) for grant, accesses in found.values()]


class _HostPaths:
    """Templates expanded and resolved on this host, each once (a profile with the standard
    library compares a hundred denies with a hundred grants)."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.known: dict[str, str | None] = {}

    def real(self, template: str) -> str | None:
        """The real path of ``template`` here, or None when its variable is unset."""
        if template not in self.known:
            try:
                self.known[template] = os.path.realpath(paths.expand(template, self.values))
            except paths.UnsetVariable:
                self.known[template] = None
        return self.known[template]


def _within_on_host(inner: str, outer: str, host: _HostPaths) -> bool:
    """Whether ``inner`` lies strictly inside ``outer`` once both are expanded here."""
    inner_path, outer_path = host.real(inner), host.real(outer)
    if inner_path is None or outer_path is None or inner_path == outer_path:
        return False
    return outer_path == "/" or inner_path.startswith(outer_path.rstrip("/") + "/")
