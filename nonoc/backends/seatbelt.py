"""Seatbelt backend: lower a ``Policy`` to SBPL, the profile language of macOS's sandbox.

The text is rendered from the jinja2 templates in ``backends/seatbelt/``; this module
decides every rule first (the templates only lay them out), so the one place that turns
user data into SBPL is ``string_literal``. Autoescaping is off because jinja2 knows HTML,
not SBPL: instead every value a template prints must be an ``Sbpl`` fragment built here,
and the environment's ``finalize`` refuses anything else.

Paths stay templates until launch. A variable becomes ``(param "HOME")``; the launcher
passes its value through ``sandbox_init_with_parameters`` (``sandbox-exec -D`` when it
falls back), so a value is data and is never parsed as SBPL. Each policy path also gets a
``<id>.real`` parameter: the launcher resolves symlinks on the host, because Seatbelt
matches the resolved path and a deny must hold whatever link leads to it.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from nonoc.backends.host import HostFacts
from nonoc.errors import Diagnostic, NonoError, Span
from nonoc.ir import (
    Access,
    NetworkMode,
    PathDeny,
    PathGrant,
    PathKind,
    Policy,
    PortRule,
    Provenance,
    SyscallRule,
)
from nonoc.resources import data_dir

NAME = "seatbelt"
TARGETS = frozenset({"macos"})
#: Version of the artifact's shape, read by ``nonoc.launch.macos``.
FORMAT = "nono-seatbelt/1"

#: Seatbelt operations each access needs. Read and write are the two operation families;
#: execute is the exec check plus mapping code from the tree (native modules, dylibs).
OPERATIONS: dict[Access, tuple[str, ...]] = {
    Access.READ: ("file-read*",),
    Access.WRITE: ("file-write*",),
    Access.EXECUTE: ("process-exec*", "file-map-executable"),
}
#: A deny removes every file operation, exec, and connecting to a unix socket inside it.
DENY_OPERATIONS = ("file*", "process-exec*", "network-outbound")
#: What ``protect metadata`` withholds from write grants: mode, owner, flags, times, ACLs, xattrs.
METADATA_OPERATIONS = (
    "file-write-acl",
    "file-write-flags",
    "file-write-mode",
    "file-write-owner",
    "file-write-setugid",
    "file-write-times",
    "file-write-xattr",
)
#: Prefix under which APFS exposes the data volume; a deny also covers that spelling.
DATA_VOLUME = "/System/Volumes/Data"

# Codes of this backend's diagnostics: stable names that tools (``nonoc check``) key on,
# whatever the wording of the message.
#: A request SBPL cannot express (system call rules, a Landlock ABI pin): not enforced.
UNSUPPORTED = "seatbelt-unsupported"
#: Port rules outside ``network proxy``: they change nothing.
PORTS_IGNORED = "seatbelt-ports-ignored"


class Sbpl(str):
    """A fragment of SBPL that is already escaped: the only kind of value a template may print."""


@dataclass(frozen=True)
class Rule:
    """One ``(allow|deny OPERATIONS FILTERS…)`` form and the comment saying where it came from."""

    action: Sbpl
    operations: Sbpl
    filters: tuple[Sbpl, ...]
    comment: Sbpl


@dataclass
class _Lowering:
    """State gathered while lowering one policy: parameters the launcher must compute."""

    variables: set[str] = field(default_factory=set)
    parameters: dict[str, dict[str, Any]] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)


def lower(policy: Policy, host: HostFacts) -> tuple[dict[str, Any], list[Diagnostic]]:
    """Lower ``policy`` to the Seatbelt artifact ``{"sbpl": text, "parameters": [...], ...}``.

    Raises ``NonoError`` (with the rule's position) for a string SBPL cannot carry; returns
    a warning for every request Seatbelt cannot enforce, so nothing is dropped silently.
    """
    if policy.target != "macos":
        raise NonoError(
            f"the seatbelt backend lowers macOS policies; this one was resolved for {policy.target}"
        )
    state = _Lowering()
    _unsupported(policy, state)
    grants = [
        _grant_rule(
            f"g{i}", grant.path, grant.kind, grant.access, grant.optional, grant.provenance, state
        )
        for i, grant in enumerate(policy.grants)
    ]
    denies = [
        _deny_rule(f"d{i}", deny.path, deny.kind, deny.provenance, state)
        for i, deny in enumerate(policy.denies)
    ]
    if policy.denies:
        state.parameters["DENY_ANCESTORS"] = {
            "name": "DENY_ANCESTORS",
            "kind": "ancestors_regex",
            "paths": sorted({deny.path for deny in policy.denies}),
        }
    network = _network(policy, state)
    if policy.network.mode is NetworkMode.PROXY:
        state.parameters["PROXY_PORT"] = {"name": "PROXY_PORT", "kind": "proxy_port"}
    for name in state.variables:
        state.parameters[name] = {"name": name, "kind": "variable", "variable": name}
    text = (
        _environment()
        .get_template("profile.sbpl.j2")
        .render(
            profile=comment(policy.name),
            description=comment(policy.description),
            signal_scoped=policy.scopes.signal,
            network_mode=Sbpl(policy.network.mode.value),
            grants=grants,
            network=network,
            denies=denies,
            has_denies=bool(policy.denies),
            protect_metadata=policy.protect_metadata,
            metadata_operations=Sbpl(" ".join(METADATA_OPERATIONS)),
        )
    )
    artifact = {
        "format": FORMAT,
        "sbpl": text,
        "network": policy.network.mode.value,
        "parameters": [state.parameters[name] for name in sorted(state.parameters)],
        "variables": sorted(state.variables),
    }
    return artifact, state.diagnostics


# ---------------------------------------------------------------------------- strings


def string_literal(text: str, span: Span | None = None, *, what: str = "string") -> Sbpl:
    """``text`` as an SBPL string literal: ``\\`` and ``"`` escaped, control characters refused.

    SBPL strings are TinyScheme strings; a control character (newline, NUL, escape…) in
    a path is either a mistake or an attempt to smuggle syntax, and it has no escape we
    trust Seatbelt to read back the same way, so it is an error at ``span``.
    """
    for offset, char in enumerate(text):
        if unicodedata.category(char) == "Cc":
            raise NonoError(
                f"{what} {text!r} contains the control character U+{ord(char):04X} "
                f"(at offset {offset}); "
                "Seatbelt profiles cannot carry it",
                span,
            )
    return Sbpl('"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"')


def comment(text: str) -> Sbpl:
    """``text`` made safe for a ``;`` comment: one line, control characters shown as ``?``."""
    return Sbpl("".join("?" if unicodedata.category(c) == "Cc" else c for c in text))


# ---------------------------------------------------------------------------- paths


def _span(provenance: Provenance) -> Span:
    return Span(provenance.file, provenance.line, provenance.column)


def _value(template: str, span: Span, state: _Lowering) -> Sbpl:
    """The SBPL expression for a path template: a literal, or ``(param VAR)`` plus the rest."""
    if not template.startswith("$"):
        return string_literal(template, span, what="path")
    name, _, rest = template[1:].partition("/")
    state.variables.add(name)
    param = Sbpl(f"(param {string_literal(name, span)})")
    if not rest:
        return param
    return Sbpl(f"(string-append {param} {string_literal('/' + rest, span, what='path')})")


@cache
def _symlinks() -> dict[str, str]:
    """macOS's fixed top-level symlinks (``/tmp`` → ``/private/tmp``…), from backend data."""
    with open(data_dir("backends") / "seatbelt" / "symlinks.json", encoding="utf-8") as handle:
        table: dict[str, str] = json.load(handle)["symlinks"]
    return table


def private_alias(path: str) -> str | None:
    """The path macOS really stores ``path`` at when it starts with a fixed symlink, else None."""
    for link, target in _symlinks().items():
        if path == link or path.startswith(link + "/"):
            return target + path[len(link) :]
    return None


def _path_filters(
    rule_id: str,
    template: str,
    kind: PathKind,
    optional: bool,
    span: Span,
    state: _Lowering,
    *,
    deny: bool,
) -> tuple[Sbpl, ...]:
    """Filters for ``template``: as written, via ``/private`` when static, resolved at launch."""
    real = f"{rule_id}.real"
    head = "subpath" if kind is PathKind.TREE else "literal"
    written = [Sbpl(f"({head} {_value(template, span, state)})")]
    alias = None if template.startswith("$") else private_alias(template)
    if alias:
        written.append(Sbpl(f"({head} {string_literal(alias, span, what='path')})"))
    resolved = Sbpl(f"(param {string_literal(real)})")
    written.append(Sbpl(f"({head} {resolved})"))
    if deny:
        data = Sbpl(f"(string-append {string_literal(DATA_VOLUME)} {resolved})")
        written.append(Sbpl(f"({head} {data})"))
    state.parameters[real] = {
        "name": real,
        "kind": "realpath",
        "path": template,
        "optional": optional,
    }
    return tuple(written)


def _describe(provenance: Provenance) -> str:
    chain = " > ".join(link.name for link in provenance.chain)
    where = f"{provenance.file}:{provenance.line}"
    return f"{where} ({chain})" if chain else where


def _grant_rule(
    rule_id: str,
    path: str,
    kind: PathKind,
    access: Iterable[Access],
    optional: bool,
    provenance: Provenance,
    state: _Lowering,
) -> Rule:
    accesses = sorted(access, key=lambda a: list(Access).index(a))
    operations = [op for a in accesses for op in OPERATIONS[a]]
    filters = _path_filters(rule_id, path, kind, optional, _span(provenance), state, deny=False)
    names = ",".join(a.value for a in accesses)
    return Rule(
        Sbpl("allow"),
        Sbpl(" ".join(operations)),
        filters,
        comment(f"{rule_id} {names} {kind.value} {path}  {_describe(provenance)}"),
    )


def _deny_rule(
    rule_id: str, path: str, kind: PathKind, provenance: Provenance, state: _Lowering
) -> Rule:
    # A denied path that does not exist yet is still denied (creating it included): never an error.
    filters = _path_filters(rule_id, path, kind, True, _span(provenance), state, deny=True)
    return Rule(
        Sbpl("deny"),
        Sbpl(" ".join(DENY_OPERATIONS)),
        filters,
        comment(f"{rule_id} deny {kind.value} {path}  {_describe(provenance)}"),
    )


# ---------------------------------------------------------------------------- network


def _network(policy: Policy, state: _Lowering) -> list[Rule]:
    """Port and unix-socket rules; the mode itself is laid out by ``network.sbpl.j2``.

    Ports mean what they mean on Linux: under ``network proxy`` TCP may also connect to
    (or bind) the listed ports, on any address. Under ``open`` everything is allowed
    already, and under ``block`` no TCP socket may exist (seccomp refuses it on Linux), so
    there a port rule changes nothing: it is reported, not emitted.
    """
    rules: list[Rule] = []
    ports = policy.network.ports
    if ports and policy.network.mode is not NetworkMode.PROXY:
        effect = (
            "everything is allowed already"
            if policy.network.mode is NetworkMode.OPEN
            else ("no TCP socket may be opened")
        )
        state.diagnostics.append(
            Diagnostic(
                "warning",
                f"port rules have no effect while the network is "
                f"{policy.network.mode.value} ({effect})",
                _span(ports[0].provenance),
                notes=("use `network proxy` to let TCP reach the listed ports besides the proxy",),
                code=PORTS_IGNORED,
            )
        )
        ports = ()
    for index, port in enumerate(ports):
        address = string_literal(f"*:{port.port}")
        if port.direction == "connect":
            operations, head = "network-outbound", "remote"
        else:
            operations, head = "network-bind network-inbound", "local"
        rules.append(
            Rule(
                Sbpl("allow"),
                Sbpl(operations),
                (Sbpl(f"({head} tcp {address})"),),
                comment(
                    f"p{index} port {port.direction} {port.port}  {_describe(port.provenance)}"
                ),
            )
        )
    for index, socket in enumerate(policy.unix_sockets):
        rule_id = f"u{index}"
        filters = _path_filters(
            rule_id, socket.path, PathKind.FILE, True, _span(socket.provenance), state, deny=False
        )
        rules.append(
            Rule(
                Sbpl("allow"),
                Sbpl("network-outbound"),
                filters,
                comment(f"{rule_id} unix_socket {socket.path}  {_describe(socket.provenance)}"),
            )
        )
    return rules


# ---------------------------------------------------------------------------- diagnostics


def _unsupported(policy: Policy, state: _Lowering) -> None:
    """A warning for each request SBPL cannot express; the rest of the profile still holds."""
    for index, rule in enumerate(policy.syscalls):
        names = ", ".join(rule.names)
        state.diagnostics.append(
            Diagnostic(
                "warning",
                f"system call rule s{index} ({names} → {rule.action.kind.value}) "
                "is a seccomp filter: "
                "Seatbelt has no equivalent, so macOS does not enforce it",
                _span(rule.provenance),
                notes=(
                    "put Linux-only rules in an `on linux { … }` block to keep this target quiet",
                ),
                code=UNSUPPORTED,
            )
        )
    if policy.min_abi is not None:
        state.diagnostics.append(
            Diagnostic(
                "warning",
                f"profile '{policy.name}' pins Landlock ABI {policy.min_abi} "
                f"(`abi {policy.min_abi}`): "
                "macOS has no Landlock, so the pin has no effect on this target",
                _profile_span(policy),
                code=UNSUPPORTED,
            )
        )


def _profile_span(policy: Policy) -> Span | None:
    """Where the profile itself is defined: the IR keeps no position for its scalar
    settings (``abi``), but every rule's chain starts at the profile."""
    rules: tuple[PathGrant | PathDeny | SyscallRule | PortRule, ...] = (
        *policy.grants,
        *policy.denies,
        *policy.syscalls,
        *policy.network.ports,
    )
    for rule in rules:
        link = rule.provenance.chain[0] if rule.provenance.chain else None
        if link is not None and link.kind == "profile":
            return Span(link.file, link.line)
    return None


# ---------------------------------------------------------------------------- rendering


def _require_sbpl(value: object) -> object:
    """jinja2 ``finalize``: a template may print only escaped fragments (or nothing)."""
    if isinstance(value, Sbpl) or value is None:
        return value
    raise TypeError(f"a seatbelt template printed an unescaped {type(value).__name__}: {value!r}")


@cache
def _environment() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(data_dir("backends") / "seatbelt")),
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        finalize=_require_sbpl,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
