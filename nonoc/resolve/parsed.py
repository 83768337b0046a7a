"""Syntax trees kept for the life of the process: each distinct file content is parsed once.

Resolving a profile parses every file it reads, the standard library included. A process
that resolves many profiles (``nonoc check`` resolves each profile and group for two
targets; the library API and ``nono run`` may resolve more than once) would otherwise parse
the same unchanged files again every time, and parsing is most of what resolution costs.
Syntax trees are immutable (frozen dataclasses and tuples), so one tree can serve every
resolution that reads the same bytes.

A tree is looked up by the file's resolved path, the name it is reported under (every span
carries that name) and the SHA-256 of its text: a file edited between two resolutions is
parsed again, whatever its modification time says. The cache lives in memory only. A parse
cache on disk would be a pickle, and a pickle in a directory a sandboxed agent can write
(``~/.cache``) would run the agent's code outside the sandbox at the next compile.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

from nonoc.syntax import ast
from nonoc.syntax.parser import parse

#: Trees kept at most. The standard library and the shipped profiles are a few dozen files;
#: the bound only matters to a long-lived process that reads many distinct versions.
LIMIT = 256

_Key = tuple[str, str, str]
_trees: OrderedDict[_Key, ast.SourceFile] = OrderedDict()
# Held only around the dictionary's bookkeeping, never while parsing: two threads that
# miss on the same file both parse it, and the trees they get are equal.
_lock = threading.Lock()


def digest(text: str) -> str:
    """The SHA-256 (hex) of ``text`` as UTF-8: the digest of the file's bytes it was read from."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def parse_file(text: str, display: str, real: str, sha256: str | None = None) -> ast.SourceFile:
    """The syntax tree of ``text``, read from the file whose resolved path is ``real`` and
    reported as ``display``.

    ``sha256`` is the digest of the text when the caller has it already (see ``digest``).
    Raises ``NonoError`` at the offending position for text that does not parse; a refusal
    is not cached, so the error is the parser's own each time.
    """
    key = (real, display, sha256 or digest(text))
    with _lock:
        tree = _trees.get(key)
        if tree is not None:
            _trees.move_to_end(key)
            return tree
    tree = parse(text, display)
    with _lock:
        _trees[key] = tree
        _trees.move_to_end(key)
        while len(_trees) > LIMIT:
            _trees.popitem(last=False)
    return tree


def clear() -> None:
    """Forget every tree (for tests and for callers that measure a cold parse)."""
    with _lock:
        _trees.clear()
