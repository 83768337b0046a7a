"""Finding the instruction files of a working tree, and the scripts they name.

The walk is bounded (depth, number of directory entries) because it runs before every
agent start and repositories can be huge; when it stops early it says so, so that a
caller can treat "not looked at" differently from "looked at and fine". Directories that
hold tooling rather than the project (``.git``, ``node_modules``, virtualenvs, caches) are
skipped, and symbolic links to directories are not followed (they could lead anywhere,
including back up the tree).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from nonoc.runtime.trust.files import is_signature_file

SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".jj",
        "node_modules",
        ".venv",
        "venv",
        "__pycache__",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".gradle",
        ".next",
        "target",
    }
)
SCRIPT_SUFFIXES = frozenset(
    {
        ".sh",
        ".bash",
        ".zsh",
        ".fish",
        ".py",
        ".js",
        ".mjs",
        ".cjs",
        ".ts",
        ".rb",
        ".pl",
        ".ps1",
        ".lua",
    }
)
#: How much of an instruction file is read when looking for script names.
MAX_SCAN_BYTES = 1 << 20
#: How many scripts one instruction file may pull in.
MAX_SCRIPTS_PER_FILE = 64

# A relative path token: "./run.sh", "scripts/setup.py", "../tools/x.ts". The lookbehind
# keeps us from starting inside a URL or an absolute path ("https://…/x.sh", "/usr/x.sh").
_PATH_TOKEN = re.compile(r"(?<![\w/.:~$-])((?:\.{1,2}/)?[\w.-]+(?:/[\w.-]+)*)")


@dataclass(frozen=True)
class Discovery:
    """What a walk of the working tree found."""

    root: Path
    instruction_files: tuple[Path, ...]
    scripts: tuple[tuple[Path, Path], ...]  # (script, the instruction file naming it)
    truncated: bool
    entries_seen: int

    @property
    def all_files(self) -> tuple[Path, ...]:
        """Instruction files then scripts, each once."""
        seen = dict.fromkeys(self.instruction_files)
        seen.update(dict.fromkeys(script for script, _ in self.scripts))
        return tuple(seen)


def discover(
    root: Path,
    *,
    file_names: tuple[str, ...],
    scripts: bool = True,
    max_depth: int = 8,
    max_entries: int = 50_000,
) -> Discovery:
    """Walk ``root`` for files whose name is in ``file_names`` (case-insensitive)."""
    root = root.resolve()
    wanted = {name.casefold() for name in file_names}
    found: list[Path] = []
    pending: list[tuple[Path, int]] = [(root, 0)]
    seen = 0
    truncated = False
    while pending and not truncated:
        directory, depth = pending.pop()
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError:
            continue  # unreadable directory: the agent cannot read it either
        subdirs: list[tuple[Path, int]] = []
        for entry in entries:
            seen += 1
            if seen > max_entries:
                truncated = True
                break
            try:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name in SKIP_DIRS:
                        continue
                    if depth + 1 <= max_depth:
                        subdirs.append((Path(entry.path), depth + 1))
                    else:
                        truncated = True
                elif entry.name.casefold() in wanted and entry.is_file():
                    found.append(Path(entry.path))
            except OSError:
                continue
        # Depth-first in name order, so the result does not depend on the directory order.
        pending.extend(reversed(subdirs))
    found.sort()
    named = _named_scripts(root, found) if scripts else ()
    return Discovery(root, tuple(found), named, truncated, seen)


def _named_scripts(root: Path, instruction_files: list[Path]) -> tuple[tuple[Path, Path], ...]:
    instruction_set = set(instruction_files)
    result: dict[Path, Path] = {}
    for doc in instruction_files:
        for script in scripts_named_by(doc, root):
            if script not in instruction_set and script not in result:
                result[script] = doc
    return tuple(sorted(result.items()))


def scripts_named_by(doc: Path, root: Path) -> list[Path]:
    """Existing script files inside ``root`` that ``doc`` names by a relative path."""
    try:
        with open(doc, "rb") as handle:
            text = handle.read(MAX_SCAN_BYTES).decode("utf-8", "replace")
    except OSError:
        return []
    root = root.resolve()
    found: list[Path] = []
    for match in _PATH_TOKEN.finditer(text):
        token = match.group(1).rstrip(".")
        if not _looks_like_script(token):
            continue
        for base in (doc.parent, root):
            candidate = _inside(root, base / token)
            if candidate is None:
                continue
            if not _has_script_suffix(token) and not os.access(candidate, os.X_OK):
                break  # "./notes.md": a document, not a script
            if candidate not in found:
                found.append(candidate)
            break
        if len(found) >= MAX_SCRIPTS_PER_FILE:
            break
    return found


def _looks_like_script(token: str) -> bool:
    return _has_script_suffix(token) or token.startswith(("./", "../"))


def _has_script_suffix(token: str) -> bool:
    return os.path.splitext(token)[1].lower() in SCRIPT_SUFFIXES


def _inside(root: Path, candidate: Path) -> Path | None:
    """``candidate`` as an absolute path, if it is a regular file within ``root``."""
    try:
        resolved = candidate.resolve()
    except OSError:
        return None
    if not resolved.is_relative_to(root) or is_signature_file(resolved):
        return None
    if not resolved.is_file():
        return None
    # Report the path as named (under the root), not where a link inside the tree points.
    lexical = Path(os.path.normpath(candidate))
    return lexical if lexical.is_relative_to(root) else resolved
