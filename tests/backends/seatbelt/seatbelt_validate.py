"""An offline validator of the SBPL nonoc emits.

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
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from seatbelt_sbpl import (
    ERE_SPECIAL,
    EXPRESSION_HEADS,
    FILTER_HEADS,
    NAME_FILTERS,
    PATH_FILTERS,
    PROTOCOLS,
    TARGETS,
    Form,
    MissingParameter,
    Node,
    SbplSyntaxError,
    String,
    Symbol,
    Vocabulary,
    escape,
    evaluate,
    parameters_used,
    parse,
    walk,
)

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
