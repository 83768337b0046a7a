"""Kernel compatibility: fit a bundle's Landlock rights to the running kernel, or refuse.

A bundle's rule table is computed for one Landlock ABI (``abi``) and names the oldest ABI
its profile was written for (``min_abi``). The running kernel may know fewer rights. This
module is the whole decision, as a small state machine rather than ABI tests scattered
through the launcher:

* **fully enforced**: the kernel knows every right, net right and scope the table handles.
* **partially enforced**: some are unknown to the kernel. ``best_effort`` drops them (the
  launcher warns, naming each right and the ABI that brings it); ``hard_requirement``
  refuses to start (exit 126).
* **not enforced**: the kernel has no Landlock at all.

Whatever ``compat`` says, a kernel older than ``min_abi`` is refused: the profile's author
pinned that ABI, and running with no Landlock at all (``min_abi`` is at least 1) would be a
hole nobody asked for. Standard library only.
"""

from __future__ import annotations

from nonoc.launch import rights as _rights

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs the launcher milliseconds at run time
    from collections.abc import Iterable, Mapping
    from typing import Any

FULLY = "fully enforced"
PARTIALLY = "partially enforced"
NOT = "not enforced"

BEST_EFFORT = "best_effort"
HARD_REQUIREMENT = "hard_requirement"


class LostRight:
    """A right the table handles that the running kernel does not know."""

    __slots__ = ("abi", "family", "name")

    def __init__(self, family: str, name: str, abi: int) -> None:
        self.family, self.name, self.abi = family, name, abi

    def __repr__(self) -> str:
        return f"LostRight({self.family!r}, {self.name!r}, {self.abi})"

    def __str__(self) -> str:
        return f"{self.name} (ABI {self.abi})"


class CompatReport:
    """What the running kernel can enforce of a rule table, and whether to go on.

    ``refusal`` is set when the launcher must not run the command; ``notes`` are what it
    should tell the user when it does.
    """

    def __init__(
        self,
        *,
        kernel_abi: int,
        bundle_abi: int,
        min_abi: int,
        compat: str,
        state: str,
        handled_fs: tuple[str, ...],
        handled_net: tuple[str, ...],
        scopes: tuple[str, ...],
        lost: tuple[LostRight, ...] = (),
        refusal: str | None = None,
        notes: tuple[str, ...] = (),
    ) -> None:
        self.kernel_abi = kernel_abi
        self.bundle_abi = bundle_abi
        self.min_abi = min_abi
        self.compat = compat
        self.state = state
        self.handled_fs = handled_fs
        self.handled_net = handled_net
        self.scopes = scopes
        self.lost = lost
        self.refusal = refusal
        self.notes = notes

    def keep(self, family: str, names: Iterable[str]) -> list[str]:
        """``names`` of ``family`` that survive on this kernel, in bit order."""
        kept = {"fs": self.handled_fs, "net": self.handled_net, "scope": self.scopes}[family]
        return _rights.ordered(family, set(names) & set(kept))

    def summary(self) -> str:
        """One line: kernel and bundle ABIs, compat mode and state."""
        return (
            f"kernel ABI {self.kernel_abi}, bundle ABI {self.bundle_abi} "
            f"(min {self.min_abi}, {self.compat}): {self.state}"
        )


def _names(table: Mapping[str, Any], key: str, family: str) -> list[str]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"landlock.{key} must be a list of right names")
    known = _rights.rights(family)
    for name in value:
        if name not in known:
            raise ValueError(f"landlock.{key} names unknown right {name!r}")
    return value


def negotiate(table: Mapping[str, Any], kernel_abi: int) -> CompatReport:
    """Fit ``table`` (a bundle's ``linux.landlock``) to a kernel of ABI ``kernel_abi``.

    Raises ``ValueError`` on a malformed table. A report with ``refusal`` set means the
    launcher must not run the command (exit 126).
    """
    bundle_abi = int(table.get("abi", 1))
    min_abi = max(1, int(table.get("min_abi", 1)))
    compat = str(table.get("compat", BEST_EFFORT))
    if compat not in (BEST_EFFORT, HARD_REQUIREMENT):
        raise ValueError(
            f"landlock.compat must be {BEST_EFFORT} or {HARD_REQUIREMENT}, not {compat!r}"
        )
    wanted = {
        "fs": _names(table, "handled_fs", "fs"),
        "net": _names(table, "handled_net", "net"),
        "scope": _names(table, "scopes", "scope"),
    }
    kept: dict[str, tuple[str, ...]] = {}
    lost: list[LostRight] = []
    for family, names in wanted.items():
        known = _rights.rights(family)
        kept[family] = tuple(
            _rights.ordered(family, (n for n in names if known[n].abi <= kernel_abi))
        )
        lost.extend(LostRight(family, n, known[n].abi) for n in names if known[n].abi > kernel_abi)
    lost.sort(key=lambda r: (r.abi, r.family, r.name))

    if kernel_abi <= 0:
        state = NOT
    elif lost:
        state = PARTIALLY
    else:
        state = FULLY
    refusal = None
    notes: list[str] = []
    if kernel_abi < min_abi:
        have = "no Landlock" if kernel_abi <= 0 else f"Landlock ABI {kernel_abi}"
        refusal = f"this kernel has {have}; the bundle requires at least ABI {min_abi}"
    elif lost and compat == HARD_REQUIREMENT:
        refusal = (
            f"this kernel (Landlock ABI {kernel_abi}) cannot enforce "
            + ", ".join(map(str, lost))
            + "; the bundle asks for hard_requirement"
        )
    elif lost:
        notes.append("not enforced on this kernel: " + ", ".join(map(str, lost)))
    if "REFER" in wanted["fs"] and "REFER" not in kept["fs"] and kernel_abi >= 1:
        # Before ABI 2 the kernel refuses every cross-directory rename and link under Landlock.
        notes.append(
            "without REFER (ABI 2) every rename or link across directories fails with EXDEV"
        )
    return CompatReport(
        kernel_abi=kernel_abi,
        bundle_abi=bundle_abi,
        min_abi=min_abi,
        compat=compat,
        state=state,
        handled_fs=kept["fs"],
        handled_net=kept["net"],
        scopes=kept["scope"],
        lost=tuple(lost),
        refusal=refusal,
        notes=tuple(notes),
    )
