"""Hand-built policies and a fake backend for the bundle tests."""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import SimpleNamespace
from typing import Any


def provenance(file: str = "profile.nono", line: int = 1, column: int = 1) -> Any:
    from nonoc.ir import ChainLink, Provenance

    return Provenance(
        file=file,
        line=line,
        column=column,
        chain=(ChainLink(kind="profile", name="demo", file=file, line=1),),
    )


def make_policy(
    target: str = "linux",
    *,
    name: str = "demo",
    sources: dict[str, str] | None = None,
    **fields: Any,
) -> Any:
    """A small hand-built policy (until the front end exists, and for unit tests after)."""
    from nonoc.ir import Access, PathDeny, PathGrant, PathKind, Policy

    defaults: dict[str, Any] = {
        "grants": (
            PathGrant(
                path="/usr",
                access=frozenset({Access.READ, Access.EXECUTE}),
                provenance=provenance(line=2),
            ),
            PathGrant(
                path="$CWD",
                access=frozenset({Access.READ, Access.WRITE}),
                provenance=provenance(line=3),
            ),
        ),
        "denies": (PathDeny(path="$HOME/.ssh", kind=PathKind.TREE, provenance=provenance(line=4)),),
    }
    defaults.update(fields)
    return Policy(
        name=name, target=target, sources=tuple(sorted((sources or {}).items())), **defaults
    )


class FakeBackend(SimpleNamespace):
    """A backend with the real shape that records how often it lowered something."""

    def __init__(
        self,
        name: str = "fake",
        targets: frozenset[str] = frozenset({"linux", "macos"}),
        arch: bool = False,
    ) -> None:
        super().__init__(NAME=name, TARGETS=targets, calls=0, with_arch=arch)

    def lower(self, policy: Any, host: Any) -> tuple[dict[str, Any], list[Any]]:
        from nonoc.errors import Diagnostic, Span

        self.calls += 1
        artifact: dict[str, Any] = {
            "rules": [
                {"id": f"g{i}", "path": grant.path, "access": sorted(a.value for a in grant.access)}
                for i, grant in enumerate(policy.grants)
            ],
            "denies": [{"id": f"d{i}", "path": deny.path} for i, deny in enumerate(policy.denies)],
        }
        if self.with_arch:
            artifact["arch"] = host.arch
        warning = Diagnostic("warning", "fake backend warning", Span("profile.nono", 2, 3))
        return artifact, [warning]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def loader_for(source_file: Path, **fields: Any):  # type: ignore[no-untyped-def]
    """A loader that builds the hand-made policy and names ``source_file`` as its source."""
    calls: list[str] = []

    def load(source: str, target: str) -> Any:
        calls.append(target)
        return make_policy(target, sources={str(source_file): digest(source_file)}, **fields)

    load.calls = calls  # type: ignore[attr-defined]
    return load


def linux_payload(**manifest: Any) -> dict[str, Any]:
    """A minimal valid payload for this machine, with manifest fields overridden."""
    from nonoc.launch.verify import FORMAT, native_arch

    base: dict[str, Any] = {
        "compiler": "nonoc test",
        "profile": "demo",
        "targets": ["linux"],
        "arch": native_arch(),
    }
    base.update(manifest)
    document: dict[str, Any] = {"format": FORMAT, "manifest": base, "provenance": {}}
    for target in base["targets"]:
        document[target] = {"launch": {}}
    return document


def write_bundle(path: Path, payload: dict[str, Any], key: Any) -> Path:
    """Seal ``payload`` with ``key`` (None: unsigned) into ``path``."""
    from nonoc.bundle.canonical import canonical_json
    from nonoc.bundle.dsse import seal

    path.write_bytes(seal(canonical_json(payload), key))
    return path


class MemoryKeyring:
    """A keyring backend that keeps passwords in a dict (stands in for the OS keyring)."""

    def __init__(self) -> None:
        self.store: dict[tuple[str, str], str] = {}

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))
