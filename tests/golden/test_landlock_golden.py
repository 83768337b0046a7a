"""Golden Landlock rule tables: three policies built as IR, each lowered for ABIs 1 to 7.

A snapshot is a reviewed artifact: when the backend changes what it emits, the diff of
``__snapshots__/test_landlock_golden.ambr`` is what a reviewer reads.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from nonoc.backends import landlock
from nonoc.backends.host import HostFacts
from nonoc.ir import (
    Access,
    ChainLink,
    Compat,
    DenyStrategy,
    Network,
    NetworkMode,
    PathDeny,
    PathGrant,
    PathKind,
    Policy,
    PortRule,
    Provenance,
    Scopes,
)

R, W, X = Access.READ, Access.WRITE, Access.EXECUTE


def at(line: int, file: str = "golden.nono") -> Provenance:
    return Provenance(
        file=file,
        line=line,
        column=3,
        chain=(ChainLink(kind="profile", name="golden", file=file, line=1),),
    )


def grant(
    path: str, *access: Access, kind: PathKind = PathKind.TREE, line: int, optional: bool = True
) -> PathGrant:
    return PathGrant(
        path=path, kind=kind, access=frozenset(access), optional=optional, provenance=at(line)
    )


def readonly_tools() -> Policy:
    """Read the system, run its binaries, read one dotfile."""
    return Policy(
        name="readonly-tools",
        target="linux",
        grants=(
            grant("$HOME/.gitconfig", R, kind=PathKind.FILE, line=5),
            grant("/etc", R, line=3),
            grant("/usr", R, X, line=2, optional=False),
        ),
    )


def agent_workspace() -> Policy:
    """A coding agent: its workspace and config writable, credentials denied, TCP narrowed."""
    return Policy(
        name="agent-workspace",
        target="linux",
        grants=(
            grant("$CWD", R, W, line=4, optional=False),
            grant("$HOME/.claude", R, W, line=5),
            grant("$HOME/.claude.json", R, W, kind=PathKind.FILE, line=6),
            grant("$TMPDIR", R, W, line=7),
            grant("/usr", R, X, line=2),
        ),
        denies=(
            PathDeny(path="$CWD/.env", kind=PathKind.FILE, provenance=at(9)),
            PathDeny(path="$HOME/.ssh", provenance=at(10)),
        ),
        network=Network(
            mode=NetworkMode.BLOCKED,
            ports=(
                PortRule(port=443, direction="connect", provenance=at(12)),
                PortRule(port=8080, direction="bind", provenance=at(13)),
            ),
            provenance=at(11),
        ),
    )


def hardened() -> Policy:
    """Pinned to ABI 4, hard requirement, refuse deny-inside-allow, signal scope off, proxy."""
    return Policy(
        name="hardened",
        target="linux",
        min_abi=4,
        compat=Compat.HARD_REQUIREMENT,
        deny_strategy=DenyStrategy.REFUSE,
        grants=(grant("$TMPDIR", W, line=3), grant("/usr/bin", X, line=2)),
        denies=(PathDeny(path="$HOME/.gnupg", provenance=at(5)),),
        network=Network(mode=NetworkMode.PROXY, provenance=at(6)),
        scopes=Scopes(signal=False),
    )


POLICIES: dict[str, Callable[[], Policy]] = {
    "readonly_tools": readonly_tools,
    "agent_workspace": agent_workspace,
    "hardened": hardened,
}


def rendered(policy: Policy, abi: int) -> str:
    """The table as canonical JSON plus the diagnostics' headlines: what the snapshot holds."""
    try:
        table, diagnostics = landlock.lower(policy, HostFacts(target="linux", landlock_abi=abi))
    except Exception as exc:  # a refusal is a golden answer too
        render: Any = getattr(exc, "render", None)
        return "refused: " + (render() if render else repr(exc))
    text = json.dumps(table, indent=1, sort_keys=True)
    return text + "\n" + "\n".join(d.headline() for d in diagnostics)


@pytest.mark.parametrize("abi", range(1, 8))
@pytest.mark.parametrize("name", sorted(POLICIES))
def test_landlock_table(name: str, abi: int, snapshot: Any) -> None:
    assert rendered(POLICIES[name](), abi) == snapshot
