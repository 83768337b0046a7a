"""One parse per file for a whole ``nonoc check`` run.

The front end parses every file it reads, the standard library included, each time it
resolves a profile: right for one compile, but a check resolves every profile and group
for two targets, and re-parsing the unchanged standard library was most of its run time
(ten seconds of the shipped profiles' check, against a third of a second with this).
Syntax trees are immutable, so for the duration of a check the front end's ``parse`` is
wrapped in a memo keyed by the file's name and exact text; it is restored afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from nonoc.syntax import ast


@contextmanager
def shared_parses() -> Iterator[None]:
    """Within the block, the resolver parses each distinct (file name, text) once."""
    from nonoc.resolve import sources

    original: Callable[[str, str], ast.SourceFile] = getattr(sources, "parse")  # noqa: B009
    memo: dict[tuple[str, str], ast.SourceFile] = {}

    def parse(text: str, filename: str) -> ast.SourceFile:
        key = (filename, text)
        found = memo.get(key)
        if found is None:
            found = memo[key] = original(text, filename)
        return found

    setattr(sources, "parse", parse)  # noqa: B010 - a module global, restored below
    try:
        yield
    finally:
        setattr(sources, "parse", original)  # noqa: B010


def parse(text: str, filename: str) -> ast.SourceFile:
    """Parse as the resolver does (so that, within ``shared_parses``, the parse is shared)."""
    from nonoc.resolve import sources

    found: ast.SourceFile = getattr(sources, "parse")(text, filename)  # noqa: B009
    return found
