"""``missing-path``: a granted path that does not exist on this host.

The launcher skips an optional grant whose path is missing and refuses to start when a
``require``d one is, so a misspelt path is a grant that silently does nothing. Paths are
expanded with this host's variables (``nonoc.paths.host_variables``) and checked only for
the target this host runs. Not checked:

* ``$CWD`` paths: the directory an agent will be started in is not the one ``nonoc check``
  runs in;
* optional grants of the standard library, written for many layouts at once
  (``/lib64`` on one distribution, ``/usr/lib64`` on another);
* denies: a deny of a path that does not exist still protects its place.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from nonoc import paths
from nonoc.lint.findings import Finding, finding
from nonoc.lint.subject import Subject


def check(subject: Subject, host_target: str) -> Iterator[Finding]:
    """A warning for each grant whose path is missing here (for ``host_target`` only)."""
    if subject.target != host_target:
        return
    values = paths.host_variables()
    seen: set[tuple[str, str, int, int]] = set()
    for grant in subject.policy.grants:
        prov = grant.provenance
        key = (grant.path, prov.file, prov.line, prov.column)
        if key in seen or "CWD" in paths.variables(grant.path):
            continue
        seen.add(key)
        if grant.optional and prov.file.startswith("stdlib/"):
            continue
        effect = (
            "nono will refuse to start here (`require`)"
            if not grant.optional
            else "the grant will be skipped"
        )
        try:
            expanded = paths.expand(grant.path, values)
        except paths.UnsetVariable as exc:
            yield finding(
                "missing-path",
                f"{grant.path}: ${exc.name} is not set on this host; {effect}",
                subject.span(prov, grant.path),
                target=subject.target,
            )
            continue
        if not os.path.lexists(expanded):
            shown = grant.path if expanded == grant.path else f"{grant.path} ({expanded})"
            yield finding(
                "missing-path",
                f"{shown} does not exist on this host; {effect}",
                subject.span(prov, grant.path),
                notes=("a misspelt path is a grant that does nothing",),
                target=subject.target,
            )
