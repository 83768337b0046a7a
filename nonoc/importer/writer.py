"""Policy text as the importer writes it: quoted strings, wrapped lists, nested blocks.

The importer builds a tree of ``Block`` objects (a file, a group, a profile, an ``on``
block) and renders it once at the end, so that the output has one canonical layout:
two-space indentation, lists wrapped before ``WIDTH`` columns, comments where something
could not be translated.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field

from nonoc.syntax.literal import quote

WIDTH = 96
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")


def is_name(text: str) -> bool:
    """Whether ``text`` is a valid group or profile name as it stands."""
    return bool(_NAME.match(text))


def as_name(text: str) -> str:
    """``text`` made into a valid name: other characters become ``_``."""
    cleaned = re.sub(r"[^A-Za-z0-9_.\-]", "_", text)
    return cleaned if cleaned and (cleaned[0].isalpha() or cleaned[0] == "_") else f"_{cleaned}"


@dataclass
class Block:
    """A braced body (or the whole file when ``header`` is None) of lines and sub-blocks."""

    header: str | None = None
    items: list[str | Block] = field(default_factory=list)
    #: Nesting depth of the block's body (0: the file's top level).
    depth: int = 0

    def line(self, text: str) -> None:
        """A line written as is."""
        self.items.append(text)

    def comment(self, text: str) -> None:
        """A ``#`` comment, wrapped to the width; continuation lines are indented."""
        room = max(40, WIDTH - 2 * self.depth - 2)
        for part in text.splitlines() or [""]:
            wrapped = textwrap.wrap(part, room, subsequent_indent="  ", break_on_hyphens=False)
            for line in wrapped or [""]:
                self.items.append(f"# {line}".rstrip())

    def names(self, head: str, names: list[str]) -> None:
        """``head a, b, …`` with bare names (``use``), wrapped like ``statement``."""
        self._wrapped(head, names)

    def blank(self) -> None:
        """An empty line between sections (never two in a row)."""
        if self.items and self.items[-1] != "":
            self.items.append("")

    def statement(self, head: str, values: list[str]) -> None:
        """``head v1, v2, …`` with quoted values, wrapped into several statements if long."""
        self._wrapped(head, [quote(v) for v in values])

    def _wrapped(self, head: str, values: list[str]) -> None:
        if not values:
            return
        room = WIDTH - 2 * self.depth
        current: list[str] = []
        for value in values:
            candidate = f"{head} {', '.join([*current, value])}"
            if current and len(candidate) > room:
                self.items.append(f"{head} {', '.join(current)}")
                current = []
            current.append(value)
        self.items.append(f"{head} {', '.join(current)}")

    def child(self, header: str) -> Block:
        """A nested block (``group x { … }``, ``on linux { … }``), appended and returned."""
        block = Block(header, depth=self.depth + 1)
        self.items.append(block)
        return block

    def is_empty(self) -> bool:
        """Whether the block holds nothing but blank lines."""
        return all(item == "" for item in self.items)

    def render(self, indent: int = 0) -> list[str]:
        """The block's lines, indented by ``indent`` levels."""
        pad = "  " * indent
        inner = indent if self.header is None else indent + 1
        body: list[str] = []
        for item in self.items:
            if isinstance(item, Block):
                body.extend(item.render(inner))
            else:
                body.append(("  " * inner + item) if item else "")
        while body and body[-1] == "":
            body.pop()
        if self.header is None:
            return body
        if not body:
            return [f"{pad}{self.header} {{ }}"]
        return [f"{pad}{self.header} {{", *body, f"{pad}}}"]


def render_file(root: Block) -> str:
    """The whole file's text, ending with one newline."""
    return "\n".join(root.render()) + "\n"
