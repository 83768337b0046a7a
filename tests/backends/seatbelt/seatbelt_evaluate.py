"""A small evaluator of the SBPL nonoc emits, to test what the text decides without a Mac.

It answers "allow" or "deny" for one operation on one path (or address, or name) the way
Seatbelt decides: among the rules that match, the last one written wins; ``(deny
default)`` decides when none does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from seatbelt_sbpl import NAME_FILTERS, PATH_FILTERS, Form, Symbol, evaluate, parse

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
