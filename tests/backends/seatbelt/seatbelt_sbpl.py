"""An offline reader of the SBPL nonoc emits: parser, validator and a small evaluator.

There is no Mac here, so the generated profiles are checked against what is known of the
language without running Seatbelt:

* the text is balanced s-expressions starting with ``(version 1)``;
* every operation is one of the names macOS 14's libsandbox knows (the list in
  ``shared/data/sbpl_operations.txt``: its section [A] is canonical, [B]/[C] are accepted
  aliases and reported as warnings);
* every filter head is one Seatbelt knows, with the arguments it takes;
* every regex compiles. Python's ``re`` stands in for the POSIX extended regular
  expressions Seatbelt compiles, so the validator also refuses what the two read
  differently: ``\\d``/``\\w``/``\\s``/``\\b``, ``(?…)`` groups, lazy quantifiers,
  back-references, a backslash before an ordinary character (undefined in ERE) and a
  backslash inside a bracket expression (literal in ERE, an escape in Python);
* every string is escaped exactly as ``nonoc.backends.seatbelt.string_literal`` writes
  it, and holds no control character;
* every ``(param …)`` is declared in the artifact, and every declared parameter is used.

The evaluator answers "allow" or "deny" for one operation on one path (or address) the
way Seatbelt decides: among the matching rules, the last one written wins.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
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


# ---------------------------------------------------------------------------- validation


@dataclass
class Report:
    """What the validator found: errors make a profile invalid; warnings do not."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def ere_problems(pattern: str) -> list[str]:
    """Where Python's ``re`` and POSIX ERE would read ``pattern`` differently (or ERE cannot)."""
    problems = []
    try:
        re.compile(pattern)
    except re.error as exc:
        return [f"does not compile: {exc}"]
    in_bracket = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if in_bracket:
            if char == "\\":
                problems.append("backslash inside [...] is literal in ERE but an escape in Python")
            if char == "]" and pattern[i - 1] not in "[^":
                in_bracket = False
        elif char == "[":
            in_bracket = True
        elif char == "\\":
            following = pattern[i + 1] if i + 1 < len(pattern) else ""
            if following not in ERE_SPECIAL:
                problems.append(f"'\\{following}' is not an ERE escape")
            i += 1
        elif char == "(" and pattern[i + 1 : i + 2] == "?":
            problems.append("'(?' groups do not exist in ERE")
        elif char in "*+?}" and pattern[i + 1 : i + 2] == "?":
            problems.append("lazy quantifiers do not exist in ERE")
        i += 1
    return problems


def validate(
    text: str,
    vocabulary: Vocabulary,
    params: Mapping[str, str] | None = None,
    declared: Iterable[str] | None = None,
) -> Report:
    """Check ``text`` as described in the module docstring. ``params`` evaluate expressions
    (regexes built from parameters are checked with these values); ``declared`` are the
    parameter names the artifact promises the launcher will pass."""
    report = Report()
    try:
        forms = parse(text)
    except SbplSyntaxError as exc:
        report.errors.append(str(exc))
        return report
    params = dict(params or {})
    if not forms or forms[0].items != (
        Symbol("version", forms[0].line),
        Symbol("1", forms[0].line),
    ):
        report.errors.append("the profile must start with (version 1)")
    for node in walk(forms):
        if isinstance(node, String) and not node.raw.startswith("#"):
            if any(ord(c) < 0x20 or ord(c) == 0x7F for c in node.raw):
                report.errors.append(f"line {node.line}: control character in {node.raw!r}")
            if escape(node.value) != node.raw:
                report.errors.append(
                    f"line {node.line}: {node.raw} is not escaped as {escape(node.value)}"
                )
    for form in forms[1:]:
        _check_rule(form, vocabulary, params, report)
    if declared is not None:
        used, promised = parameters_used(forms), set(declared)
        for name in sorted(used - promised):
            report.errors.append(f"(param {name!r}) is used but the artifact does not declare it")
        for name in sorted(promised - used):
            report.errors.append(f"parameter {name!r} is declared but never used")
    return report


def _check_rule(
    form: Form, vocabulary: Vocabulary, params: Mapping[str, str], report: Report
) -> None:
    where = f"line {form.line}"
    if form.head not in ("allow", "deny"):
        report.errors.append(f"{where}: top-level form {form.head!r} is not allow/deny")
        return
    items = list(form.items[1:])
    operations = []
    while items and isinstance(items[0], Symbol):
        operations.append(items.pop(0).name)  # type: ignore[union-attr]
    if not operations:
        report.errors.append(f"{where}: rule names no operation")
    for name in operations:
        if name in vocabulary.canonical:
            continue
        if name in vocabulary.aliases:
            report.warnings.append(f"{where}: {name!r} is an alias, not in macOS 14's table")
        else:
            report.errors.append(f"{where}: unknown operation {name!r}")
    if "default" in operations and (len(operations) > 1 or items):
        report.errors.append(f"{where}: 'default' takes no filter and no other operation")
    for item in items:
        if not isinstance(item, Form):
            report.errors.append(f"{where}: {item!r} after the filters began")
            continue
        _check_filter(item, params, report)


def _check_filter(form: Form, params: Mapping[str, str], report: Report) -> None:
    where, head, args = f"line {form.line}", form.head, form.items[1:]
    if head not in FILTER_HEADS:
        report.errors.append(f"{where}: unknown filter {head!r}")
        return
    if head in ("require-any", "require-all", "require-not"):
        if head == "require-not" and len(args) != 1:
            report.errors.append(f"{where}: require-not takes one filter")
        for arg in args:
            if isinstance(arg, Form):
                _check_filter(arg, params, report)
            else:
                report.errors.append(f"{where}: {head} takes filters, not {arg!r}")
        return
    if head in PATH_FILTERS or head in NAME_FILTERS:
        if len(args) != 1:
            report.errors.append(f"{where}: {head} takes one string")
            return
        value = _expression(args[0], params, report, where)
        if value is None:
            return
        if head == "regex":
            report.errors.extend(f"{where}: regex {value!r}: {p}" for p in ere_problems(value))
        elif head in PATH_FILTERS and not value.startswith("/"):
            report.errors.append(f"{where}: {head} path {value!r} is not absolute")
        return
    if head in ("remote", "local"):
        if len(args) != 2 or not isinstance(args[0], Symbol) or args[0].name not in PROTOCOLS:
            report.errors.append(
                f"{where}: {head} takes a protocol ({', '.join(sorted(PROTOCOLS))}) and an address"
            )
            return
        address = _expression(args[1], params, report, where)
        if address is None:
            return
        match = re.fullmatch(r"(\*|localhost):(\*|[0-9]{1,5})", address)
        if match is None:
            problem = "is not HOST:PORT, HOST * or localhost"
            report.errors.append(f"{where}: address {address!r} {problem}")
        elif match.group(2) != "*" and not 0 < int(match.group(2)) < 65536:
            report.errors.append(f"{where}: port in {address!r} is out of range")
        return
    if head == "target":
        if len(args) != 1 or not isinstance(args[0], Symbol) or args[0].name not in TARGETS:
            report.errors.append(f"{where}: target takes one of {sorted(TARGETS)}")
        return
    if head == "vnode-type" and (not args or not all(isinstance(a, Symbol) for a in args)):
        report.errors.append(f"{where}: vnode-type takes type names")


def _expression(node: Node, params: Mapping[str, str], report: Report, where: str) -> str | None:
    """Check that ``node`` is a string expression, then evaluate it with ``params``."""
    problem = _expression_problem(node)
    if problem:
        report.errors.append(f"{where}: {problem}")
        return None
    try:
        return evaluate(node, params)
    except MissingParameter as exc:
        report.errors.append(f"{where}: parameter {exc.args[0]!r} has no value to check with")
        return None


def _expression_problem(node: Node) -> str | None:
    if isinstance(node, String):
        return None
    if isinstance(node, Symbol):
        return f"bare symbol {node.name!r} where a string belongs"
    args = node.items[1:]
    if node.head not in EXPRESSION_HEADS:
        return f"{node.head!r} is not a string expression"
    if node.head == "param" and (len(args) != 1 or not isinstance(args[0], String)):
        return "param takes one string"
    if node.head == "regex-quote" and len(args) != 1:
        return "regex-quote takes one expression"
    if not args:
        return f"{node.head} takes arguments"
    for arg in args:
        problem = _expression_problem(arg)
        if problem:
            return problem
    return None


# ---------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class Request:
    """One operation to decide: on a ``path``, or on a network address, or by name."""

    operation: str
    path: str | None = None
    remote: tuple[str, str, int] | None = None  # (protocol, host, port), host "localhost" or other
    local: tuple[str, str, int] | None = None
    name: str | None = None  # global-name, sysctl name…
    target: str | None = None  # "same-sandbox", "others"…


@dataclass(frozen=True)
class _Rule:
    action: str
    operations: tuple[str, ...]
    filters: tuple[Form, ...]
    line: int


class Evaluator:
    """Decide requests against a profile the way Seatbelt does: the last matching rule wins."""

    def __init__(self, text: str, params: Mapping[str, str]) -> None:
        self.params = dict(params)
        self.rules: list[_Rule] = []
        for form in parse(text)[1:]:
            items = list(form.items)
            action = items.pop(0).name  # type: ignore[union-attr]
            operations = []
            while items and isinstance(items[0], Symbol):
                operations.append(items.pop(0).name)  # type: ignore[union-attr]
            self.rules.append(_Rule(action, tuple(operations), tuple(items), form.line))  # type: ignore[arg-type]

    def decide(self, request: Request) -> str:
        """``"allow"`` or ``"deny"``."""
        return self.deciding_rule(request)[0]

    def deciding_rule(self, request: Request) -> tuple[str, int]:
        """The decision and the line of the rule that made it (0: nothing matched)."""
        decision, line = "deny", 0
        for rule in self.rules:
            if "default" in rule.operations:
                decision, line = rule.action, rule.line
                continue
            if not any(_operation_matches(op, request.operation) for op in rule.operations):
                continue
            if not rule.filters or any(self._matches(f, request) for f in rule.filters):
                decision, line = rule.action, rule.line
        return decision, line

    def _matches(self, form: Form, request: Request) -> bool:
        head, args = form.head, form.items[1:]
        if head == "require-all":
            return all(self._matches(a, request) for a in args)  # type: ignore[arg-type]
        if head == "require-any":
            return any(self._matches(a, request) for a in args)  # type: ignore[arg-type]
        if head == "require-not":
            return not self._matches(args[0], request)  # type: ignore[arg-type]
        if head in PATH_FILTERS:
            if request.path is None:
                return False
            value = evaluate(args[0], self.params)
            path = request.path
            if head in ("literal", "path"):
                return path == value
            if head == "subpath":
                return value == "/" or path == value or path.startswith(value.rstrip("/") + "/")
            if head == "prefix":
                return path.startswith(value)
            return re.search(value, path) is not None
        if head in ("remote", "local"):
            address = request.remote if head == "remote" else request.local
            if address is None:
                return False
            protocol = args[0].name  # type: ignore[union-attr]
            host, port = evaluate(args[1], self.params).split(":")
            proto_ok = protocol.rstrip("46") in ("ip", address[0])
            host_ok = host == "*" or host == address[1]
            return proto_ok and host_ok and (port == "*" or int(port) == address[2])
        if head in NAME_FILTERS:
            value = evaluate(args[0], self.params)
            if request.name is None:
                return False
            return (
                request.name.startswith(value)
                if head.endswith("-prefix")
                else request.name == value
            )
        if head == "target":
            return request.target == args[0].name  # type: ignore[union-attr]
        return False


def _operation_matches(rule_operation: str, operation: str) -> bool:
    if rule_operation.endswith("*"):
        return operation.startswith(rule_operation[:-1])
    return operation == rule_operation
