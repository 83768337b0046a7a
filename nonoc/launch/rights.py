"""Landlock right names, their bits and the ABI that introduced each, from ``rights.json``.

The table lives in ``backends/landlock/rights.json`` so that the compiler and the launcher
read the same facts. Bundles carry right *names*; this module turns them into the kernel's
bit masks and says which rights a given ABI knows. Standard library only.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs the launcher milliseconds at run time
    from collections.abc import Iterable
    from typing import Any

_FAMILIES = ("fs", "net", "scope")


class Right:
    """One Landlock right: its name (without prefix), family, bit and introducing ABI."""

    __slots__ = ("abi", "bit", "family", "file_valid", "name")

    def __init__(
        self, name: str, family: str, bit: int, abi: int, file_valid: bool = False
    ) -> None:
        self.name, self.family, self.bit, self.abi, self.file_valid = (
            name,
            family,
            bit,
            abi,
            file_valid,
        )

    @property
    def mask(self) -> int:
        """The right as a one-bit mask."""
        return 1 << self.bit


def _rights_path() -> str:
    # Same lookup as nonoc.resources.data_file, in os.path: pathlib costs the launcher
    # a few milliseconds of imports it does not otherwise need.
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    installed = os.path.join(package, "_data", "backends", "landlock", "rights.json")
    if os.path.exists(installed):
        return installed
    return os.path.join(os.path.dirname(package), "backends", "landlock", "rights.json")


_SOURCE: bytes | None = None
_TABLE: dict[str, Any] | None = None
_BY_FAMILY: dict[str, dict[str, Right]] = {}


def source() -> bytes:
    """The bytes of ``rights.json`` (read once per process)."""
    global _SOURCE
    if _SOURCE is None:
        with open(_rights_path(), "rb") as handle:
            _SOURCE = handle.read()
    return _SOURCE


def table() -> dict[str, Any]:
    """The parsed ``rights.json`` (parsed once per process)."""
    global _TABLE
    if _TABLE is None:
        from nonoc.launch.jsondata import loads

        loaded = loads(source())
        if not isinstance(loaded, dict):
            raise ValueError("rights.json must hold a JSON object")
        _TABLE = loaded
    return _TABLE


def facts() -> dict[str, dict[str, list[int]]]:
    """Every right of every family as ``[bit, abi, file-valid]``: what ``adopt`` takes back.

    This is the part of ``rights.json`` the launcher applies bundles with. A verification
    memo keeps it (``nonoc.launch.verify``), so that a repeated ``nono exec`` need not parse
    JSON at all: importing the JSON scanner costs more than the rest of the rule table.
    """
    return {
        family: {
            name: [int(e["bit"]), int(e["abi"]), int(bool(e.get("file", False)))]
            for name, e in table()[family].items()
        }
        for family in _FAMILIES
    }


def adopt(known: object) -> bool:
    """Take ``facts()`` decoded earlier from these same ``rights.json`` bytes; False if unusable.

    The caller vouches for the bytes (the memo's tag covers their digest): the result is
    what parsing the file would give. Families already built are kept as they are.
    """
    if not isinstance(known, dict):
        return False
    built: dict[str, dict[str, Right]] = {}
    try:
        for family in _FAMILIES:
            built[family] = {
                str(name): Right(str(name), family, int(bit), int(abi), bool(file))
                for name, (bit, abi, file) in known[family].items()
            }
    except (KeyError, TypeError, ValueError, AttributeError):
        return False
    for family, found in built.items():
        _BY_FAMILY.setdefault(family, found)
    return True


def rights(family: str) -> dict[str, Right]:
    """Every right of ``family`` (``fs``, ``net`` or ``scope``), by name."""
    found = _BY_FAMILY.get(family)
    if found is None:
        if family not in _FAMILIES:
            raise ValueError(f"unknown Landlock right family {family!r}")
        found = {
            name: Right(name, family, int(e["bit"]), int(e["abi"]), bool(e.get("file", False)))
            for name, e in table()[family].items()
        }
        _BY_FAMILY[family] = found
    return found


def names_at(family: str, abi: int) -> list[str]:
    """The names of ``family``'s rights that ABI ``abi`` supports, in bit order."""
    found = [r for r in rights(family).values() if r.abi <= abi]
    return [r.name for r in sorted(found, key=lambda r: r.bit)]


def file_valid(names: Iterable[str]) -> list[str]:
    """The subset of fs right ``names`` that a rule on a single (non-directory) file may carry."""
    known = rights("fs")
    return ordered("fs", (n for n in names if known[n].file_valid))


def mask(family: str, names: Iterable[str]) -> int:
    """The bit mask of ``names``; ``KeyError`` names an unknown right."""
    known = rights(family)
    value = 0
    for name in names:
        right = known.get(name)
        if right is None:
            raise KeyError(f"unknown Landlock {family} right {name!r}")
        value |= right.mask
    return value


def ordered(family: str, names: Iterable[str]) -> list[str]:
    """``names`` without duplicates, in the kernel's bit order (how tables list rights)."""
    known = rights(family)
    return sorted(set(names), key=lambda name: known[name].bit)


def lowering(access: str, kind: str) -> list[str]:
    """The fs rights a policy access (``read``, ``write``, ``execute``) lowers to.

    ``kind`` is ``tree`` (a directory and everything beneath) or ``file``.
    """
    return list(table()["access"][access][kind])
