"""What a snapshot leaves out, and what the user puts back in.

By default a snapshot skips version-control internals and directories that a build or a
package manager regenerates, any directory (or file) larger than ``dir_size_limit``, what
the tree's ``.gitignore`` files ignore, and anything on another filesystem. Every skip of
the first, second and last kind is reported in the snapshot; ignored paths are counted.

``include`` patterns win over every default: a path they match is always recorded. Both
``include`` and ``exclude`` use ``.gitignore`` syntax relative to each snapshot root
(``dist`` matches a ``dist`` at any depth, ``/dist`` only at the top, ``vendor/cache/``
one directory). Restore applies the same rules, so it never touches what the snapshot
left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Version-control internals: history is the repository's own business, and restoring
#: a working tree must not rewrite it.
VCS_DIRS: tuple[str, ...] = (".git", ".hg", ".svn", ".jj")

#: Directories that a build, a test run or a package manager recreates.
REGENERABLE_DIRS: tuple[str, ...] = (
    "node_modules",
    "target",
    "__pycache__",
    ".venv",
    "dist",
    "build",
    ".tox",
    ".nox",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".gradle",
    ".next",
    ".turbo",
)

#: Directories larger than this (counting what would be recorded) are left out.
DEFAULT_DIR_SIZE_LIMIT = 512 * 1024 * 1024


@dataclass(frozen=True)
class RollbackOptions:
    """How to scan a tree. Stored in each snapshot so that restore scans the same way."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    excluded_dirs: tuple[str, ...] = VCS_DIRS + REGENERABLE_DIRS
    use_gitignore: bool = True
    dir_size_limit: int = DEFAULT_DIR_SIZE_LIMIT
    one_filesystem: bool = True

    def to_json(self) -> dict[str, Any]:
        """A JSON-able form (sorted where order does not matter)."""
        return {
            "include": list(self.include),
            "exclude": list(self.exclude),
            "excluded_dirs": sorted(self.excluded_dirs),
            "use_gitignore": self.use_gitignore,
            "dir_size_limit": self.dir_size_limit,
            "one_filesystem": self.one_filesystem,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RollbackOptions:
        """Read back what :meth:`to_json` wrote."""
        return cls(
            include=tuple(data.get("include", ())),
            exclude=tuple(data.get("exclude", ())),
            excluded_dirs=tuple(data.get("excluded_dirs", VCS_DIRS + REGENERABLE_DIRS)),
            use_gitignore=bool(data.get("use_gitignore", True)),
            dir_size_limit=int(data.get("dir_size_limit", DEFAULT_DIR_SIZE_LIMIT)),
            one_filesystem=bool(data.get("one_filesystem", True)),
        )


def exclusion_reason(name: str) -> str:
    """Why a directory of this name is left out by default."""
    return "version-control internals" if name in VCS_DIRS else "regenerable"


def include_patterns(
    values: list[str] | tuple[str, ...], roots: tuple[str, ...] | list[str]
) -> tuple[str, ...]:
    """``--rollback-include`` values as patterns: a path inside a root becomes anchored to it.

    ``--rollback-include ./node_modules/my-fork`` (or its absolute path) becomes
    ``/node_modules/my-fork/`` for the root that holds it; anything else (``dist``,
    ``*.lock``) is already a pattern and is kept as written.
    """
    import os

    out: list[str] = []
    for value in values:
        absolute = os.path.abspath(value)
        root = next(
            (
                r
                for r in sorted(roots, key=len, reverse=True)
                if absolute.startswith(r.rstrip("/") + "/")
            ),
            None,
        )
        if root is not None and os.path.lexists(absolute):
            rel = os.path.relpath(absolute, root)
            out.append(
                "/"
                + rel
                + ("/" if os.path.isdir(absolute) and not os.path.islink(absolute) else "")
            )
        else:
            out.append(value)
    return tuple(out)
