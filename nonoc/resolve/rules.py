"""One statement → its IR entries: paths normalised, words checked, constants looked up.

Everything the user can misspell is checked here with a "did you mean": setting words,
syscall actions, errno names, symbolic constants (``backends/seccomp/constants.json``),
argument names, platform names.
"""

from __future__ import annotations

import errno as errno_module
import functools
import json
import re
from collections.abc import Mapping
from typing import Literal, TypeVar

from nonoc import ir
from nonoc.backends.host import LATEST_LANDLOCK_ABI
from nonoc.errors import NonoError, Span, did_you_mean
from nonoc.paths import TemplateError, normalize
from nonoc.resolve.layer import Layer, Scalar
from nonoc.resolve.routes import lower_route
from nonoc.resources import data_file
from nonoc.syntax import ast

VERB_ACCESS: dict[str, frozenset[ir.Access]] = {
    "read": frozenset({ir.Access.READ}),
    "write": frozenset({ir.Access.WRITE}),
    "readwrite": frozenset({ir.Access.READ, ir.Access.WRITE}),
    "allow": frozenset({ir.Access.READ, ir.Access.WRITE}),
    "exec": frozenset({ir.Access.EXECUTE}),
}

NETWORK_MODES = {
    "block": ir.NetworkMode.BLOCKED,
    "blocked": ir.NetworkMode.BLOCKED,
    "off": ir.NetworkMode.BLOCKED,
    "open": ir.NetworkMode.OPEN,
    "on": ir.NetworkMode.OPEN,
    "proxy": ir.NetworkMode.PROXY,
}
SCOPES = {
    "signal": "signal",
    "abstract_unix": "abstract_unix_socket",
    "abstract_unix_socket": "abstract_unix_socket",
}
SWITCH: dict[str, object] = {"on": True, "off": False}
SETTINGS: dict[str, Mapping[str, object]] = {
    "compat": {
        "best_effort": ir.Compat.BEST_EFFORT,
        "hard_requirement": ir.Compat.HARD_REQUIREMENT,
    },
    "deny_inside_allow": {"split": ir.DenyStrategy.SPLIT, "refuse": ir.DenyStrategy.REFUSE},
    "rollback": SWITCH,
}
PLATFORMS = ("linux", "macos")
ACTIONS = {
    "allow": ir.SyscallActionKind.ALLOW,
    "deny": ir.SyscallActionKind.ERRNO,
    "kill": ir.SyscallActionKind.KILL_PROCESS,
    "trap": ir.SyscallActionKind.TRAP,
    "log": ir.SyscallActionKind.LOG,
    "notify": ir.SyscallActionKind.NOTIFY,
}
OPERATORS = {
    "==": ir.ArgOp.EQ,
    "!=": ir.ArgOp.NE,
    "<": ir.ArgOp.LT,
    "<=": ir.ArgOp.LE,
    ">": ir.ArgOp.GT,
    ">=": ir.ArgOp.GE,
}
_SYSCALL_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ARG = re.compile(r"^arg([0-9]+)$")
_U64 = 1 << 64
T = TypeVar("T")
DIRECTIONS: dict[str, Literal["connect", "bind"]] = {"connect": "connect", "bind": "bind"}


@functools.cache
def symbolic_constants() -> dict[str, int]:
    """Names usable in syscall conditions (``AF_UNIX``, ``TIOCSTI``…), from the backend's data."""
    data = json.loads(data_file("backends/seccomp/constants.json").read_text(encoding="utf-8"))
    return {str(k): int(v) for k, v in data["constants"].items()}


def errno_names() -> dict[str, int]:
    """Errno names as Python's ``errno`` module knows them."""
    return {name: number for number, name in errno_module.errorcode.items()}


def template(text: ast.Text) -> str:
    """The normalised path template of a quoted path, or a ``NonoError`` pointing into it."""
    try:
        return normalize(text.value)
    except TemplateError as exc:
        column = text.span.column + 1 + exc.offset
        span = Span(
            text.span.file, text.span.line, column, text.span.end_column, text.span.source_line
        )
        notes: tuple[str, ...] = ()
        if text.value.startswith("/run/user/$UID"):
            notes = ('for the user\'s runtime directory write "$XDG_RUNTIME_DIR"',)
        raise NonoError(f'bad path "{text.value}": {exc}', span, notes=notes) from None


def _choose(word: ast.Word, choices: Mapping[str, T], what: str) -> T:
    if word.text not in choices:
        hint = did_you_mean(word.text, set(choices)) or "; expected " + ", ".join(sorted(choices))
        raise NonoError(f"unknown {what} '{word.text}'{hint}", word.span)
    return choices[word.text]


def check_platform(word: ast.Word) -> str:
    """The platform named by ``on WORD``."""
    return str(_choose(word, {p: p for p in PLATFORMS}, "platform"))


class StatementLowering:
    """Lowers the leaf statements of one body, for one provenance chain."""

    def __init__(self, file: str, chain: tuple[ir.ChainLink, ...]) -> None:
        self.file = file
        self.chain = chain

    def provenance(self, span: Span) -> ir.Provenance:
        """The provenance of a statement at ``span``."""
        return ir.Provenance(file=self.file, line=span.line, column=span.column, chain=self.chain)

    def lower(self, stmt: ast.Statement) -> Layer:
        """The layer of one leaf statement (not ``use`` nor ``on``: the collector does those)."""
        layer = Layer()
        prov = self.provenance(stmt.span)
        if isinstance(stmt, ast.PathRule):
            kind = ir.PathKind.FILE if stmt.file else ir.PathKind.TREE
            for text in stmt.paths:
                path = template(text)
                for access in sorted(VERB_ACCESS[stmt.verb], key=lambda a: a.value):
                    layer.grants.append(
                        ir.PathGrant(
                            path=path,
                            kind=kind,
                            access=frozenset({access}),
                            optional=not stmt.required,
                            provenance=prov,
                        )
                    )
        elif isinstance(stmt, ast.DenyRule):
            kind = ir.PathKind.FILE if stmt.file else ir.PathKind.TREE
            layer.denies.extend(
                ir.PathDeny(path=template(t), kind=kind, provenance=prov) for t in stmt.paths
            )
        elif isinstance(stmt, ast.Assert):
            for access in VERB_ACCESS[stmt.verb]:
                layer.assertions.append(
                    ir.Assertion(access=access, path=template(stmt.path), provenance=prov)
                )
        elif isinstance(stmt, ast.NetworkSetting):
            self._network(stmt, layer, prov)
        elif isinstance(stmt, ast.PortRule):
            direction = _choose(stmt.direction, DIRECTIONS, "port direction")
            for number in stmt.ports:
                if number.value > 65535:
                    raise NonoError(
                        f"port {number.value} is out of range (0 to 65535)", number.span
                    )
                layer.ports.append(
                    ir.PortRule(port=number.value, direction=direction, provenance=prov)
                )
        elif isinstance(stmt, ast.ScopeSetting):
            scope = str(_choose(stmt.scope, SCOPES, "scope"))
            value = _choose(stmt.value, SWITCH, "scope setting")
            layer.scalars[f"scope.{scope}"] = Scalar(
                value, f"scope {stmt.scope.text} {stmt.value.text}", stmt.span, prov
            )
        elif isinstance(stmt, ast.Setting):
            self._setting(stmt, layer, prov)
        elif isinstance(stmt, ast.Protect):
            _choose(stmt.what, {"metadata": True}, "protection")
            layer.protect_metadata.append(prov)
        elif isinstance(stmt, ast.EnvKeep):
            for text in stmt.names:
                layer.env_keep.append((_env_name(text), prov))
        elif isinstance(stmt, ast.EnvSet):
            variable = _env_name(stmt.name)
            layer.scalars[f"env.{variable}"] = Scalar(
                stmt.value.value, f'env set "{variable}" "{stmt.value.value}"', stmt.span, prov
            )
        elif isinstance(stmt, ast.CommandRule):
            commands = layer.blocked_commands if stmt.mode == "block" else layer.allowed_commands
            for command in stmt.commands:
                if not command.value or "\x00" in command.value:
                    raise NonoError("a command name must not be empty", command.span)
                commands.append((command.value, prov))
        elif isinstance(stmt, ast.UnixSocket):
            layer.unix_sockets.extend(
                ir.UnixSocketGrant(path=template(t), provenance=prov) for t in stmt.paths
            )
        elif isinstance(stmt, ast.SyscallRule):
            layer.syscalls.extend(self._syscalls(stmt, prov))
        else:  # pragma: no cover - the collector handles `use` and `on`
            raise TypeError(f"not a leaf statement: {stmt!r}")
        return layer

    def _network(self, stmt: ast.NetworkSetting, layer: Layer, prov: ir.Provenance) -> None:
        mode = _choose(stmt.mode, NETWORK_MODES, "network mode")
        if (stmt.hosts or stmt.routes) and mode is not ir.NetworkMode.PROXY:
            what = "a list of allowed hosts" if stmt.hosts else "a credential route"
            raise NonoError(
                f"{what} needs 'network proxy', not 'network {stmt.mode.text}'",
                stmt.mode.span,
            )
        for route in stmt.routes:
            lower_route(route, layer, self.provenance(route.span))
        layer.scalars["network"] = Scalar(mode, f"network {stmt.mode.text}", stmt.span, prov)
        for host in stmt.hosts:
            pattern = host.value.strip().lower()
            if not pattern or " " in pattern or "*" in pattern.removeprefix("*."):
                raise NonoError(
                    f"bad host pattern \"{host.value}\": write a name or '*.suffix'", host.span
                )
            layer.hosts.append(ir.HostRule(pattern=pattern, provenance=prov))

    def _setting(self, stmt: ast.Setting, layer: Layer, prov: ir.Provenance) -> None:
        if stmt.key == "abi":
            assert isinstance(stmt.value, ast.Number)
            if not 1 <= stmt.value.value <= LATEST_LANDLOCK_ABI:
                raise NonoError(
                    f"Landlock ABI {stmt.value.value} is unknown: this compiler knows 1 to {LATEST_LANDLOCK_ABI}",
                    stmt.value.span,
                )
            layer.scalars["abi"] = Scalar(
                stmt.value.value, f"abi {stmt.value.value}", stmt.span, prov
            )
            return
        assert isinstance(stmt.value, ast.Word)
        value = _choose(stmt.value, SETTINGS[stmt.key], f"{stmt.key} setting")
        layer.scalars[stmt.key] = Scalar(value, f"{stmt.key} {stmt.value.text}", stmt.span, prov)

    def _syscalls(self, stmt: ast.SyscallRule, prov: ir.Provenance) -> list[ir.SyscallRule]:
        kind = _choose(stmt.action, ACTIONS, "syscall action")
        number: int | None = None
        if stmt.errno is not None:
            if kind is not ir.SyscallActionKind.ERRNO:
                raise NonoError(
                    f"'errno' only follows 'deny', not '{stmt.action.text}'", stmt.errno.span
                )
            names = errno_names()
            if stmt.errno.text not in names:
                raise NonoError(
                    f"unknown errno '{stmt.errno.text}'{did_you_mean(stmt.errno.text, set(names))}",
                    stmt.errno.span,
                )
            number = names[stmt.errno.text]
        elif kind is ir.SyscallActionKind.ERRNO:
            number = errno_module.EPERM
        action = ir.SyscallAction(kind=kind, errno=number)
        conditions = tuple(self._condition(c) for c in stmt.conditions)
        rules = []
        for name in stmt.names:
            if not _SYSCALL_NAME.match(name.text):
                raise NonoError(f"'{name.text}' is not a system call name", name.span)
            rules.append(
                ir.SyscallRule(
                    names=(name.text,), action=action, conditions=conditions, provenance=prov
                )
            )
        return rules

    def _condition(self, cond: ast.Condition) -> ir.ArgCondition:
        match = _ARG.match(cond.arg.text)
        if match is None or int(match.group(1)) > 5:
            raise NonoError(
                f"unknown argument '{cond.arg.text}'; a system call has arguments arg0 to arg5",
                cond.arg.span,
            )
        value = _constant(cond.value)
        if cond.mask is not None:
            mask = _constant(cond.mask)
            return ir.ArgCondition(
                index=int(match.group(1)), op=ir.ArgOp.MASKED_EQ, value=value, mask=mask
            )
        return ir.ArgCondition(index=int(match.group(1)), op=OPERATORS[cond.op], value=value)


def _constant(value: ast.Word | ast.Number) -> int:
    if isinstance(value, ast.Number):
        number = value.value
    else:
        constants = symbolic_constants()
        if value.text not in constants:
            raise NonoError(
                f"unknown constant '{value.text}'{did_you_mean(value.text, set(constants))}",
                value.span,
                notes=("symbolic constants come from backends/seccomp/constants.json",),
            )
        number = constants[value.text]
    if not 0 <= number < _U64:
        raise NonoError(f"{number} does not fit in a 64-bit argument", value.span)
    return number


def _env_name(text: ast.Text) -> str:
    if not _ENV_NAME.match(text.value):
        raise NonoError(f'bad environment variable name "{text.value}"', text.span)
    return text.value
