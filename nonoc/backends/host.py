"""Facts about the *target* a bundle is compiled for: never the user's paths or environment."""

from __future__ import annotations

import platform
from dataclasses import dataclass

from nonoc.ir import Target

#: The newest Landlock ABI this compiler knows how to use.
LATEST_LANDLOCK_ABI = 7

ARCHES: tuple[str, ...] = ("x86_64", "aarch64")


@dataclass(frozen=True)
class HostFacts:
    """What a backend may depend on: target OS, CPU architecture, Landlock ABI to compile for."""

    target: Target
    arch: str = "x86_64"
    landlock_abi: int = LATEST_LANDLOCK_ABI

    @staticmethod
    def for_target(
        target: Target, arch: str | None = None, landlock_abi: int | None = None
    ) -> HostFacts:
        """Facts for ``target``; the architecture defaults to this machine's."""
        return HostFacts(
            target=target,
            arch=arch or native_arch(),
            landlock_abi=LATEST_LANDLOCK_ABI if landlock_abi is None else landlock_abi,
        )


def native_arch() -> str:
    """This machine's architecture in the names nono uses (``x86_64``, ``aarch64``)."""
    machine = platform.machine().lower()
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
