"""The policy language's syntax tree: what a file says, before any name is looked up.

Every node carries the ``Span`` of where it was written, so that the resolver (and every
diagnostic after it) can point at the exact statement. Values are kept as written
(paths unnormalised, setting words unchecked): judging them is the resolver's job, where
"did you mean" suggestions and variable checks live.
"""

from __future__ import annotations

from dataclasses import dataclass

from nonoc.errors import Span


@dataclass(frozen=True)
class Word:
    """A bare word (a name, a setting's value) and where it was written."""

    text: str
    span: Span


@dataclass(frozen=True)
class Text:
    """A quoted string, unescaped, and where it was written (the span covers the quotes)."""

    value: str
    span: Span


@dataclass(frozen=True)
class Number:
    """An integer literal (decimal or ``0x`` hexadecimal)."""

    value: int
    span: Span


# --- statements (inside `profile` and `group` bodies) -------------------------------------


@dataclass(frozen=True)
class Use:
    """``use a, b``: include named groups."""

    groups: tuple[Word, ...]
    span: Span


@dataclass(frozen=True)
class PathRule:
    """``[require] read|write|readwrite|allow|exec [file] "p", ...``."""

    verb: str
    paths: tuple[Text, ...]
    span: Span
    file: bool = False
    required: bool = False


@dataclass(frozen=True)
class DenyRule:
    """``deny [file] "p", ...``: deny every access."""

    paths: tuple[Text, ...]
    span: Span
    file: bool = False


@dataclass(frozen=True)
class Assert:
    """``assert never VERB "p"``: a compile-time check on the resolved policy."""

    verb: str
    path: Text
    span: Span


@dataclass(frozen=True)
class RouteField:
    """One ``NAME "value"`` line of a credential route (``upstream``, ``secret``…)."""

    key: Word
    value: Text
    span: Span


@dataclass(frozen=True)
class CredentialRouteDef:
    """``credential "name" { upstream "https://…" secret "REF" … }`` in a proxy block."""

    name: Text
    fields: tuple[RouteField, ...]
    span: Span


@dataclass(frozen=True)
class NetworkSetting:
    """``network MODE [{ allow "host", ... credential "name" { ... } }]``."""

    mode: Word
    hosts: tuple[Text, ...]
    span: Span
    routes: tuple[CredentialRouteDef, ...] = ()


@dataclass(frozen=True)
class PortRule:
    """``port connect|bind N, ...``."""

    direction: Word
    ports: tuple[Number, ...]
    span: Span


@dataclass(frozen=True)
class ScopeSetting:
    """``scope signal|abstract_unix on|off``."""

    scope: Word
    value: Word
    span: Span


@dataclass(frozen=True)
class Setting:
    """A one-word scalar: ``compat X``, ``deny_inside_allow X``, ``rollback X``, ``abi N``."""

    key: str
    value: Word | Number
    span: Span


@dataclass(frozen=True)
class Protect:
    """``protect metadata``."""

    what: Word
    span: Span


@dataclass(frozen=True)
class EnvKeep:
    """``env keep "NAME", ...``."""

    names: tuple[Text, ...]
    span: Span


@dataclass(frozen=True)
class EnvSet:
    """``env set "NAME" "value"``."""

    name: Text
    value: Text
    span: Span


@dataclass(frozen=True)
class CommandRule:
    """``command block|allow "cmd", ...`` (defense in depth only)."""

    mode: str
    commands: tuple[Text, ...]
    span: Span


@dataclass(frozen=True)
class UnixSocket:
    """``unix_socket "path", ...``."""

    paths: tuple[Text, ...]
    span: Span


@dataclass(frozen=True)
class Condition:
    """``argN OP value`` or, when ``mask`` is set, ``argN & mask == value``."""

    arg: Word
    op: str
    value: Word | Number
    span: Span
    mask: Word | Number | None = None


@dataclass(frozen=True)
class SyscallRule:
    """``syscall a, b ACTION [errno E] [if COND and ...]``."""

    names: tuple[Word, ...]
    action: Word
    span: Span
    errno: Word | None = None
    conditions: tuple[Condition, ...] = ()


@dataclass(frozen=True)
class PlatformBlock:
    """``on linux|macos { ... }``: statements that apply to one target only."""

    platform: Word
    body: tuple[Statement, ...]
    span: Span


Statement = (
    Use
    | PathRule
    | DenyRule
    | Assert
    | NetworkSetting
    | PortRule
    | ScopeSetting
    | Setting
    | Protect
    | EnvKeep
    | EnvSet
    | CommandRule
    | UnixSocket
    | SyscallRule
    | PlatformBlock
)


# --- top level --------------------------------------------------------------------------


@dataclass(frozen=True)
class Import:
    """``import "path"``, ``import stdlib "name"`` or ``import "stdlib:name"``."""

    target: Text
    span: Span
    stdlib: bool = False


@dataclass(frozen=True)
class GroupDef:
    """``[mandatory] group NAME ["description"] { ... }``."""

    name: Word
    body: tuple[Statement, ...]
    span: Span
    description: str = ""
    mandatory: bool = False


@dataclass(frozen=True)
class ProfileDef:
    """``profile NAME [extends A, B] ["description"] { ... }``."""

    name: Word
    body: tuple[Statement, ...]
    span: Span
    extends: tuple[Word, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class SourceFile:
    """One parsed file: its display name, text, top-level items in source order."""

    name: str
    text: str
    imports: tuple[Import, ...] = ()
    abi: Setting | None = None
    groups: tuple[GroupDef, ...] = ()
    profiles: tuple[ProfileDef, ...] = ()
