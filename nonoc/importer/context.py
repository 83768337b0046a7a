"""What every part of an import shares: where a value sits in the JSON, and the warnings.

Nothing in the input is dropped silently: a key the importer does not know, or knows but
cannot express in the policy language, is reported as a warning that names its JSON path
(``$.profiles['claude-code'].undo``), and leaves a comment in the output at that place.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from nonoc.errors import Diagnostic, Span
from nonoc.importer.writer import Block
from nonoc.paths import TemplateError, normalize

JsonPath = tuple[str | int, ...]
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: Variables of nono's JSON profiles that the policy language spells differently.
_RENAMED = {"$WORKDIR": "$CWD", "${WORKDIR}": "$CWD"}


def render_path(path: JsonPath) -> str:
    """``$.a.b[0]['odd-key']``: where a value sits in the JSON document."""
    out = "$"
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENTIFIER.match(part):
            out += f".{part}"
        else:
            out += "['" + part.replace("\\", "\\\\").replace("'", "\\'") + "']"
    return out


@dataclass
class Context:
    """The source's name and the warnings met so far."""

    source: str
    warnings: list[Diagnostic] = field(default_factory=list)
    #: Groups and profiles the document defines itself (names as imported).
    groups: set[str] = field(default_factory=set)
    profiles: set[str] = field(default_factory=set)

    def warn(self, path: JsonPath, message: str, block: Block | None = None) -> None:
        """Report ``message`` about the value at ``path``; note it in ``block`` too."""
        where = render_path(path)
        self.warnings.append(Diagnostic("warning", f"{where}: {message}", Span(self.source)))
        if block is not None:
            block.comment(f"import warning: {where}: {message}")

    def unknown(self, path: JsonPath, block: Block | None = None) -> None:
        """Report a key this importer does not know."""
        self.warn(path, "unknown key; not imported", block)

    def expect(
        self, value: Any, kind: type | tuple[type, ...], path: JsonPath, block: Block | None = None
    ) -> bool:
        """Whether ``value`` has the JSON type ``kind``; if not, warn and return False."""
        kinds = _tuple(kind)
        # bool is an int to Python, not to JSON.
        if isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds):
            return True
        self.warn(
            path, f"expected {_describe(kind)}, found {_describe(type(value))}; not imported", block
        )
        return False

    def strings(self, value: Any, path: JsonPath, block: Block | None = None) -> list[str]:
        """A list of strings (a lone string counts as a list of one); others are reported."""
        if isinstance(value, str):
            return [value]
        if not self.expect(value, list, path, block):
            return []
        found = []
        for index, item in enumerate(value):
            if isinstance(item, str):
                found.append(item)
            else:
                self.warn(
                    (*path, index),
                    f"expected a string, found {_describe(type(item))}; not imported",
                    block,
                )
        return found

    def paths(self, value: Any, path: JsonPath, block: Block) -> list[str]:
        """Policy paths from a JSON list; a path the language cannot spell is reported."""
        found = []
        for index, raw in enumerate(self.strings(value, path, block)):
            text = raw
            for old, new in _RENAMED.items():
                if text == old or text.startswith(old + "/"):
                    text = new + text[len(old) :]
            try:
                normalize(text)
            except TemplateError as exc:
                where = (*path, index) if not isinstance(value, str) else path
                self.warn(
                    where, f'path "{raw}" cannot be written in the policy language ({exc})', block
                )
                continue
            found.append(text)
        return found


def items(
    ctx: Context, value: Any, path: JsonPath, block: Block | None = None
) -> Iterator[tuple[str, Any, JsonPath]]:
    """The ``(key, value, path)`` of a JSON object; anything else is reported and yields nothing."""
    if not ctx.expect(value, dict, path, block):
        return
    mapping: Mapping[str, Any] = value
    for key, inner in mapping.items():
        yield key, inner, (*path, key)


def _tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _describe(kind: type | tuple[type, ...]) -> str:
    names = {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "true or false",
        int: "a number",
        float: "a number",
        type(None): "null",
    }
    return " or ".join(names.get(k, k.__name__) for k in _tuple(kind))
