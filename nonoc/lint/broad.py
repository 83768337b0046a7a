"""``broad-grant``: grants wider than any agent needs.

Write access to ``/``, a home directory or the system trees lets an agent change what
runs *outside* the sandbox later (shell startup files, nono's own trusted keys in
``$XDG_CONFIG_HOME/nono``, system binaries); read access to ``/`` or to every user's home
reads what no profile means to share. A profile should grant the directories the agent
works in, and nothing above them.
"""

from __future__ import annotations

from collections.abc import Iterator

from nonoc import ir
from nonoc.lint.findings import Finding, finding
from nonoc.lint.subject import Subject

#: Trees whose write grant reaches far beyond a project, and why.
BROAD_WRITE: dict[str, str] = {
    "/": "the whole filesystem",
    "$HOME": "the whole home directory (shell startup files, credentials, every project)",
    "$HOME/.config": "every program's configuration, nono's trusted keys included",
    "$XDG_CONFIG_HOME": "every program's configuration, nono's trusted keys included",
    "/home": "every user's home directory",
    "/Users": "every user's home directory",
    "/root": "root's home directory",
    "/etc": "the system configuration",
    "/usr": "the system's programs and libraries",
    "/bin": "the system's programs",
    "/sbin": "the system's programs",
    "/lib": "the system's libraries",
    "/var": "system state, logs and spools",
    "/opt": "installed software",
    "/System": "the operating system",
    "/Library": "system-wide settings and software",
}
#: Trees whose read grant exposes what no profile means to share.
BROAD_READ: dict[str, str] = {
    "/": "the whole filesystem",
    "/home": "every user's home directory",
    "/Users": "every user's home directory",
}
#: Trees whose execute grant runs anything.
BROAD_EXECUTE: dict[str, str] = {
    "/": "the whole filesystem",
    "$HOME": "the whole home directory, including whatever the agent writes there",
}
_TABLES = {
    ir.Access.WRITE: BROAD_WRITE,
    ir.Access.READ: BROAD_READ,
    ir.Access.EXECUTE: BROAD_EXECUTE,
}


def check(subject: Subject) -> Iterator[Finding]:
    """A warning for each grant of a tree listed in the tables above."""
    for grant in subject.policy.grants:
        if grant.kind is not ir.PathKind.TREE:
            continue
        for access in sorted(grant.access, key=lambda a: a.value):
            reach = _TABLES[access].get(grant.path)
            if reach is None:
                continue
            yield finding(
                "broad-grant",
                f"{access.value} access to {grant.path} covers {reach}",
                subject.span(grant.provenance, grant.path),
                notes=("grant the directories the agent works in instead, and nothing above them",),
                target=subject.target,
            )
