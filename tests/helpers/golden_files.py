"""What the golden tests share: one text file per snapshot, and the shipped profiles.

Each golden module keeps its snapshots in ``tests/golden/<module name>/``, one file per
test case, so that a change shows as a plain diff a reviewer reads.
"""

from __future__ import annotations

from pathlib import Path

from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode
from syrupy.location import PyTestLocation

REPO = Path(__file__).resolve().parents[2]
GOLDEN_DIR = REPO / "tests" / "golden"
#: The folders whose ``*.nono`` files ship with nono.
SHIPPED = ("examples", "profiles")


class GoldenText(SingleFileSnapshotExtension):
    """One ``.txt`` file per snapshot, in ``tests/golden/<this test module>/``."""

    _write_mode = WriteMode.TEXT
    file_extension = "txt"

    @classmethod
    def dirname(cls, *, test_location: PyTestLocation) -> str:
        return str(GOLDEN_DIR / test_location.basename)


class GoldenSbpl(GoldenText):
    """One ``.sbpl`` file per snapshot, in ``tests/golden/<this test module>/``."""

    file_extension = "sbpl"


def shipped_profiles() -> list[tuple[str, str]]:
    """(file relative to the repository, profile name) for every profile shipped as text."""
    try:
        from nonoc.syntax.parser import parse
    except ImportError:
        return []
    found = []
    for folder in SHIPPED:
        for path in sorted((REPO / folder).glob("*.nono")):
            relative = path.relative_to(REPO).as_posix()
            try:
                profiles = parse(path.read_text(encoding="utf-8"), relative).profiles
            except Exception:  # a file that does not parse fails its own tests, not collection
                profiles = ()
            found += [(relative, p.name.text) for p in profiles]
    return found


def shipped_id(source: str, profile: str) -> str:
    """A test id for a shipped profile: ``profiles-claude-code-claude-code``."""
    return f"{source.removesuffix('.nono').replace('/', '-')}-{profile}"
