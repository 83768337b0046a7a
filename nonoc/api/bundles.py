"""``load_bundle`` and ``Bundle``: a verified bundle, its rules to inspect, ``apply()``.

Verification is the launcher's own (``nonoc.launch.verify``): a bundle the library loads is
one ``nono exec`` would run. Neither loading nor applying imports the compiler.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nonoc.errors import NonoError

if TYPE_CHECKING:
    from nonoc.api.applying import Applied


@dataclass(frozen=True)
class BundleGrant:
    """A Landlock path rule of a bundle: ``path`` (a template) with Landlock ``access`` rights."""

    id: str
    path: str
    kind: str
    access: tuple[str, ...]
    optional: bool
    source: str


@dataclass(frozen=True)
class BundleDeny:
    """A denied path of a bundle."""

    id: str
    path: str
    kind: str
    source: str


@dataclass(frozen=True)
class BundlePort:
    """A TCP port rule: ``access`` is ``CONNECT_TCP`` or ``BIND_TCP``."""

    id: str
    port: int
    access: tuple[str, ...]
    source: str


class Bundle:
    """A verified bundle: its manifest, its rules (inspectable), and ``apply()``."""

    def __init__(self, payload: Mapping[str, Any], name: str = "bundle") -> None:
        self.payload: Mapping[str, Any] = payload
        self.name = name

    @property
    def manifest(self) -> Mapping[str, Any]:
        """The manifest: compiler, profile, targets, arch, sources, variables, assumptions."""
        return self.payload["manifest"]  # type: ignore[no-any-return]

    @property
    def profile(self) -> str:
        """The name of the profile compiled."""
        return str(self.manifest.get("profile", ""))

    @property
    def targets(self) -> tuple[str, ...]:
        """The targets the bundle holds (``linux``, ``macos``)."""
        return tuple(self.manifest.get("targets", ()))

    def _linux(self) -> Mapping[str, Any]:
        section = self.payload.get("linux")
        if not isinstance(section, dict):
            raise NonoError(f"{self.name}: the bundle has no Linux section")
        return section

    @property
    def landlock(self) -> Mapping[str, Any]:
        """The raw Landlock table (see docs/architecture.md)."""
        return self._linux().get("landlock") or {}

    def _source(self, rule_id: str) -> str:
        entry = (self.payload.get("provenance") or {}).get("linux", {}).get(rule_id)
        if not isinstance(entry, dict):
            return ""
        return f"{entry.get('file', '?')}:{entry.get('line', 0)}:{entry.get('column', 0)}"

    @property
    def grants(self) -> list[BundleGrant]:
        """The path grants, each with its rule id and source position."""
        return [
            BundleGrant(
                str(row["id"]),
                str(row["path"]),
                str(row.get("kind", "tree")),
                tuple(row.get("access", ())),
                bool(row.get("optional", True)),
                self._source(str(row["id"])),
            )
            for row in self.landlock.get("rules", ())
        ]

    @property
    def denies(self) -> list[BundleDeny]:
        """The denied paths."""
        return [
            BundleDeny(
                str(row["id"]),
                str(row["path"]),
                str(row.get("kind", "tree")),
                self._source(str(row["id"])),
            )
            for row in self.landlock.get("denies", ())
        ]

    @property
    def ports(self) -> list[BundlePort]:
        """The TCP port rules."""
        return [
            BundlePort(
                str(row["id"]),
                int(row["port"]),
                tuple(row.get("access", ())),
                self._source(str(row["id"])),
            )
            for row in self.landlock.get("net", ())
        ]

    @property
    def network(self) -> str:
        """The network mode: ``open``, ``blocked`` or ``proxy``."""
        launch = self._linux().get("launch") or {}
        seccomp = self._linux().get("seccomp") or {}
        return str(launch.get("network") or seccomp.get("network") or "open")

    @property
    def has_seccomp(self) -> bool:
        """Whether the bundle carries a seccomp filter."""
        return bool(self._linux().get("seccomp"))

    def apply(self, *, kernel_abi: int | None = None) -> Applied:
        """Sandbox the calling process with this bundle. Irreversible; see ``nonoc.apply``."""
        from nonoc.api.applying import apply_payload

        return apply_payload(self.payload, self.name, kernel_abi=kernel_abi)

    def __repr__(self) -> str:
        return f"<Bundle {self.name!r} profile={self.profile!r} targets={list(self.targets)}>"


def load_bundle(source: str | os.PathLike[str] | bytes) -> Bundle:
    """Read and verify a bundle (a file path, or the bundle's bytes), as ``nono exec`` does.

    The signature must be by a key trusted in ``$XDG_CONFIG_HOME/nono/trusted_keys/``; an
    unsigned, tampered or foreign bundle raises ``NonoError`` before anything can be applied.
    """
    from nonoc.launch import verify

    if isinstance(source, bytes):
        name = "<bytes>"
        payload_bytes, signatures = verify.parse_envelope(name, source)
        files, _ = verify.trusted_key_files()
        verify.verify_signatures(name, payload_bytes, signatures, verify.trusted_keys(files))
        return Bundle(verify.check_payload(name, payload_bytes), name)
    name = os.fspath(source)
    return Bundle(verify.load_verified(name), name)
