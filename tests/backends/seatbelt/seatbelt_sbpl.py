"""Reading the SBPL nonoc emits: the operation vocabulary, a parser, string expressions.

Shared by the offline validator (``seatbelt_validate``) and the last-match-wins evaluator
(``seatbelt_evaluate``) of the Seatbelt tests.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

# ---------------------------------------------------------------------------- vocabulary

FILTER_HEADS = frozenset(
    {
        "literal",
        "subpath",
        "prefix",
        "regex",  # paths
        "require-any",
        "require-all",
        "require-not",  # logic
        "vnode-type",
        "remote",
        "local",
        "target",
        "extension",
        "global-name",
        "local-name",
        "sysctl-name",
        "sysctl-name-prefix",
        "ipc-posix-name",
        "ipc-posix-name-prefix",
        "iokit-registry-entry-class",
        "signing-identifier",
        "path",
        "file-mode",
        "xattr",
        "socket-domain",
        "socket-type",
        "socket-protocol",
        "ioctl-command",
    }
)
EXPRESSION_HEADS = frozenset({"param", "string-append", "regex-quote"})
PATH_FILTERS = frozenset({"literal", "subpath", "prefix", "regex", "path"})
NAME_FILTERS = frozenset(
    {
        "global-name",
        "local-name",
        "sysctl-name",
        "sysctl-name-prefix",
        "ipc-posix-name",
        "ipc-posix-name-prefix",
        "extension",
        "iokit-registry-entry-class",
        "signing-identifier",
    }
)
TARGETS = frozenset({"self", "same-sandbox", "children", "parent", "others", "pid"})
PROTOCOLS = frozenset({"ip", "ip4", "ip6", "tcp", "tcp4", "tcp6", "udp", "udp4", "udp6"})
ERE_SPECIAL = ".[]()*+?{}|^$\\"


def shared_data_file(name: str) -> Path | None:
    """``shared/data/NAME`` beside the repository (CI's layout) or at /work/shared, if present."""
    repo = Path(__file__).resolve().parents[3]
    for candidate in (repo.parent / "shared" / "data" / name, Path("/work/shared/data") / name):
        if candidate.is_file():
            return candidate
    return None


@dataclass(frozen=True)
class Vocabulary:
    """Operation names: ``canonical`` from macOS 14's table, ``aliases`` accepted with a warning."""

    canonical: frozenset[str]
    aliases: frozenset[str]

    @staticmethod
    def load(path: Path) -> Vocabulary:
        """Read the operations file: sections marked ``# --- [A]``, ``[B]``, ``[C]``."""
        section = "A"
        canonical: set[str] = set()
        aliases: set[str] = set()
        for line in path.read_text(encoding="utf-8").splitlines():
            text = line.strip()
            marker = re.match(r"#\s*---\s*\[([A-Z])\]", text)
            if marker:
                section = marker.group(1)
                continue
            if not text or text.startswith("#"):
                continue
            (canonical if section == "A" else aliases).add(text)
        return Vocabulary(frozenset(canonical), frozenset(aliases - canonical))

    def __len__(self) -> int:
        return len(self.canonical) + len(self.aliases)


# ---------------------------------------------------------------------------- parsing


@dataclass(frozen=True)
class Symbol:
    name: str
    line: int


@dataclass(frozen=True)
class String:
    value: str
    raw: str
    line: int


@dataclass(frozen=True)
class Form:
    items: tuple[Symbol | String | Form, ...]
    line: int

    @property
    def head(self) -> str | None:
        return self.items[0].name if self.items and isinstance(self.items[0], Symbol) else None


Node = Symbol | String | Form


class SbplSyntaxError(ValueError):
    """The text is not well-formed SBPL."""


_TOKEN = re.compile(r'\s+|;[^\n]*|\(|\)|#"[^"]*"|"(?:[^"\\]|\\.)*"|[^\s()";]+', re.DOTALL)


def parse(text: str) -> list[Form]:
    """The top-level forms of ``text``; ``SbplSyntaxError`` unless balanced s-expressions."""
    stack: list[list[Node]] = [[]]
    lines: list[int] = []
    position, line = 0, 1
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise SbplSyntaxError(f"line {line}: cannot read {text[position : position + 20]!r}")
        token = match.group(0)
        if token == "(":
            stack.append([])
            lines.append(line)
        elif token == ")":
            if len(stack) == 1:
                raise SbplSyntaxError(f"line {line}: ')' closes nothing")
            items = stack.pop()
            stack[-1].append(Form(tuple(items), lines.pop()))
        elif token.startswith('#"'):
            stack[-1].append(String(token[2:-1], token, line))
        elif token.startswith('"'):
            stack[-1].append(String(_unescape(token, line), token, line))
        elif not token.isspace() and not token.startswith(";"):
            stack[-1].append(Symbol(token, line))
        line += token.count("\n")
        position = match.end()
    if len(stack) != 1:
        raise SbplSyntaxError(f"line {lines[-1]}: '(' is never closed")
    forms = stack[0]
    for node in forms:
        if not isinstance(node, Form):
            raise SbplSyntaxError(f"line {node.line}: {node!r} outside any form")
    return forms  # type: ignore[return-value]


def _unescape(token: str, line: int) -> str:
    body, out, i = token[1:-1], [], 0
    while i < len(body):
        char = body[i]
        if char == "\\":
            following = body[i + 1]
            if following not in '\\"':
                raise SbplSyntaxError(
                    f"line {line}: escape '\\{following}' is not one nonoc writes"
                )
            out.append(following)
            i += 2
            continue
        out.append(char)
        i += 1
    return "".join(out)


def escape(value: str) -> str:
    """The one escaping nonoc writes: ``\\`` and ``"`` backslashed, in double quotes."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def walk(nodes: Iterable[Node]) -> Iterable[Node]:
    """Every node, depth first."""
    for node in nodes:
        yield node
        if isinstance(node, Form):
            yield from walk(node.items)


# ---------------------------------------------------------------------------- expressions


class MissingParameter(KeyError):
    """A ``(param NAME)`` with no value."""


def evaluate(node: Node, params: Mapping[str, str]) -> str:
    """The string an expression stands for: a string, or param / string-append / regex-quote."""
    if isinstance(node, String):
        return node.value
    if isinstance(node, Form) and node.head == "param":
        name = node.items[1]
        assert isinstance(name, String)
        if name.value not in params:
            raise MissingParameter(name.value)
        return params[name.value]
    if isinstance(node, Form) and node.head == "string-append":
        return "".join(evaluate(item, params) for item in node.items[1:])
    if isinstance(node, Form) and node.head == "regex-quote":
        return ere_quote(evaluate(node.items[1], params))
    raise ValueError(f"line {node.line}: not a string expression: {node!r}")


def ere_quote(text: str) -> str:
    """What SBPL's ``regex-quote`` does: backslash every ERE special character."""
    return "".join("\\" + c if c in ERE_SPECIAL else c for c in text)


def parameters_used(forms: Iterable[Node]) -> set[str]:
    """Names of every ``(param …)`` in the text."""
    names = set()
    for node in walk(forms):
        if isinstance(node, Form) and node.head == "param" and isinstance(node.items[1], String):
            names.add(node.items[1].value)
    return names
