"""Hand-built IR policies for the Seatbelt tests, and the parameters a fake Mac would give them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from nonoc.backends import seatbelt
from nonoc.backends.host import HostFacts
from nonoc.errors import Diagnostic
from nonoc.ir import (
    Access,
    ChainLink,
    Network,
    NetworkMode,
    PathDeny,
    PathGrant,
    PathKind,
    Policy,
    PortRule,
    Provenance,
    Scopes,
    SyscallAction,
    SyscallActionKind,
    SyscallRule,
    UnixSocketGrant,
)
from nonoc.launch import macos

FILE = "hand.nono"
R, W, X = Access.READ, Access.WRITE, Access.EXECUTE

#: A Mac as the launcher would see it: $TMPDIR under /var (a symlink into /private).
FAKE_ENV = {
    "HOME": "/Users/alice",
    "TMPDIR": "/var/folders/zz/abc123/T",
    "PATH": "/usr/bin:/bin",
}
FAKE_CWD = "/Users/alice/project"


def at(line: int, *chain: str) -> Provenance:
    """A provenance at ``hand.nono:LINE:3`` with the profile/group chain given."""
    links = tuple(
        ChainLink(kind="profile" if i == 0 else "group", name=n, file=FILE)
        for i, n in enumerate(chain)
    )
    return Provenance(
        file=FILE,
        line=line,
        column=3,
        chain=links or (ChainLink(kind="profile", name="hand", file=FILE),),
    )


def grant(
    path: str, *access: Access, line: int = 1, kind: PathKind = PathKind.TREE, optional: bool = True
) -> PathGrant:
    return PathGrant(
        path=path, kind=kind, access=frozenset(access), optional=optional, provenance=at(line)
    )


def deny(path: str, line: int = 1, kind: PathKind = PathKind.TREE) -> PathDeny:
    return PathDeny(path=path, kind=kind, provenance=at(line))


def policy(name: str = "hand", **fields: Any) -> Policy:
    return Policy(name=name, target="macos", **fields)


def fake_realpath(path: str) -> str:
    """macOS's fixed symlinks, as realpath would resolve them there."""
    alias = seatbelt.private_alias(path)
    return alias or path


def fake_parameters(
    artifact: dict[str, Any], realpath: Callable[[str], str] = fake_realpath
) -> dict[str, str]:
    """The parameters the launcher would pass on the fake Mac (through the launcher's own code)."""
    return macos.parameters(
        artifact,
        FAKE_ENV,
        cwd=FAKE_CWD,
        proxy_port=3128,
        realpath=realpath,
        exists=lambda _path: True,
    )


def compile_policy(p: Policy) -> tuple[dict[str, Any], list[Diagnostic]]:
    return seatbelt.lower(p, HostFacts.for_target("macos", arch="aarch64"))


def sbpl(p: Policy) -> str:
    return str(compile_policy(p)[0]["sbpl"])


def declared(artifact: dict[str, Any]) -> Iterable[str]:
    return [spec["name"] for spec in artifact["parameters"]]


# ---------------------------------------------------------------------------- the collection

AGENT = policy(
    "agent",
    description="An agent in its project, with credentials denied",
    grants=(
        grant("/usr", R, X, line=3),
        grant("/bin", R, X, line=4),
        grant("/etc/ssl", R, line=5),
        grant("$HOME", R, line=6),
        grant("$CWD", R, W, line=7),
        grant("$TMPDIR", R, W, line=8),
        grant("$HOME/.gitconfig", R, line=9, kind=PathKind.FILE),
        grant("$HOME/.claude", R, W, line=10),
    ),
    denies=(
        deny("$HOME/.ssh", 12),
        deny("$HOME/.aws", 13),
        deny("$HOME/.netrc", 14, PathKind.FILE),
        deny("$CWD/.env", 15, PathKind.FILE),
    ),
    network=Network(mode=NetworkMode.PROXY),
)

HAND_POLICIES: dict[str, Policy] = {
    "minimal": policy(
        "minimal", grants=(grant("/usr", R, X),), network=Network(mode=NetworkMode.BLOCKED)
    ),
    "agent_proxy": AGENT,
    "proxy_with_ports": policy(
        "proxy-ports",
        grants=(grant("/usr", R, X),),
        network=Network(
            mode=NetworkMode.PROXY,
            ports=(
                PortRule(port=443, direction="connect", provenance=at(20)),
                PortRule(port=8080, direction="bind", provenance=at(21)),
            ),
        ),
        unix_sockets=(UnixSocketGrant(path="/var/run/docker.sock", provenance=at(22)),),
    ),
    "open_with_ignored_port": policy(
        "open-ports",
        grants=(grant("/usr", R, X),),
        network=Network(
            mode=NetworkMode.OPEN,
            ports=(PortRule(port=22, direction="connect", provenance=at(30)),),
        ),
    ),
    "open_hardened": policy(
        "hardened",
        grants=(
            grant("$CWD", R, W),
            grant("/tmp", W, line=2),
            grant("/opt/homebrew", R, X, line=3),
        ),
        denies=(deny("/etc/master.passwd", 4, PathKind.FILE),),
        protect_metadata=True,
        scopes=Scopes(signal=False, abstract_unix_socket=False),
    ),
    "odd_names": policy(
        'odd "names"',
        grants=(
            grant('$HOME/we"ird\\dir', R, W, line=50),
            grant("/Volumes/My Disk (2)", R, line=51),
        ),
        denies=(deny('$HOME/we"ird\\dir/secret', 52),),
        network=Network(mode=NetworkMode.BLOCKED),
    ),
    "linux_only": policy(
        "linux-only",
        min_abi=4,
        grants=(grant("/usr", R, X),),
        syscalls=(
            SyscallRule(
                names=("ptrace",),
                action=SyscallAction(kind=SyscallActionKind.KILL_PROCESS),
                provenance=at(60),
            ),
        ),
        network=Network(mode=NetworkMode.BLOCKED),
    ),
}
