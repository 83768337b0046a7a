"""The Policy IR: what a profile means once every `extends`, `use` and platform block is resolved.

This is the contract between the front end (``nonoc.syntax`` + ``nonoc.resolve``) and the
backends (``nonoc.backends.*``). By the time a ``Policy`` exists every decision the user
made is explicit; a backend only translates. Every rule carries a ``Provenance`` so that
``nono why`` and every diagnostic can name the file, line and group chain it came from.

Paths are kept as *templates* (``$HOME/.ssh``, ``$CWD``, ``/usr/lib``): variables are
resolved by the launcher on the host that runs the bundle, so one signed bundle serves
every user and machine of its target. ``~`` is normalised to ``$HOME`` by the resolver.
"""

from __future__ import annotations

from enum import Enum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from nonoc.paths import VARIABLES

IR_VERSION = 1

#: Variables a path template may start with; the launcher resolves them at exec time.
PATH_VARIABLES: tuple[str, ...] = VARIABLES

Target = Literal["linux", "macos"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ChainLink(_Model):
    """One step of how a rule reached the policy: a profile, an `extends`, a `use`d group, a flag."""

    kind: Literal["profile", "extends", "group", "import", "flag", "builtin"]
    name: str
    file: str
    line: int = 0


class Provenance(_Model):
    """Where a rule was written, and the chain of profiles/groups that brought it in.

    ``chain`` runs from the outermost (the profile being compiled) to the innermost
    (the group whose body holds the rule).
    """

    file: str
    line: int
    column: int
    chain: tuple[ChainLink, ...] = ()

    def location(self) -> str:
        """``file:line:col``."""
        return f"{self.file}:{self.line}:{self.column}"


class Access(str, Enum):
    """High-level filesystem access; each backend maps it to its own rights."""

    READ = "read"
    WRITE = "write"
    EXECUTE = "execute"


class PathKind(str, Enum):
    """Whether a rule covers a directory tree or exactly one file."""

    TREE = "tree"
    FILE = "file"


class PathGrant(_Model):
    """Allow ``access`` to ``path`` (a template). ``optional`` grants are skipped when missing."""

    path: str
    kind: PathKind = PathKind.TREE
    access: frozenset[Access]
    optional: bool = True
    provenance: Provenance


class PathDeny(_Model):
    """Deny every access to ``path``; beats any grant wherever either was written."""

    path: str
    kind: PathKind = PathKind.TREE
    provenance: Provenance


class DenyStrategy(str, Enum):
    """What to do with a deny that lies inside a granted tree.

    ``split``: grant the tree's other entries one by one around the denied path (bounded:
    only the directories on the way are listed), so the deny holds in the kernel.
    ``refuse``: refuse to compile (or to launch, if only host resolution reveals it).
    """

    SPLIT = "split"
    REFUSE = "refuse"


class Compat(str, Enum):
    """What the launcher does on a kernel whose Landlock ABI is older than the bundle's target."""

    BEST_EFFORT = "best_effort"
    HARD_REQUIREMENT = "hard_requirement"


class NetworkMode(str, Enum):
    """``open``: no network restriction. ``blocked``: nothing leaves. ``proxy``: only the local proxy."""

    OPEN = "open"
    BLOCKED = "blocked"
    PROXY = "proxy"


class PortRule(_Model):
    """Allow TCP ``connect`` or ``bind`` on a port (any address: a Landlock limitation)."""

    port: int = Field(ge=0, le=65535)
    direction: Literal["connect", "bind"]
    provenance: Provenance


class HostRule(_Model):
    """A host the proxy lets through: an exact name, or ``*.suffix``."""

    pattern: str
    provenance: Provenance


class CredentialRoute(_Model):
    """A reverse-proxy route that adds a secret the agent never sees."""

    name: str
    upstream: str
    header: str = "Authorization"
    value_format: str = "Bearer {secret}"
    secret_ref: str
    provenance: Provenance


class Network(_Model):
    """The resolved network policy. ``mode`` is a scalar: a child's setting overrides its parent's."""

    mode: NetworkMode = NetworkMode.OPEN
    ports: tuple[PortRule, ...] = ()
    proxy_hosts: tuple[HostRule, ...] = ()
    credential_routes: tuple[CredentialRoute, ...] = ()
    provenance: Provenance | None = None


class SyscallActionKind(str, Enum):
    """What the seccomp filter does with a matching system call."""

    ALLOW = "allow"
    ERRNO = "errno"
    KILL_PROCESS = "kill_process"
    TRAP = "trap"
    LOG = "log"
    NOTIFY = "notify"


class SyscallAction(_Model):
    """An action, with the errno value for ``errno``."""

    kind: SyscallActionKind
    errno: int | None = None


class ArgOp(str, Enum):
    """Comparison of one system call argument (libseccomp's operators)."""

    EQ = "eq"
    NE = "ne"
    LT = "lt"
    LE = "le"
    GT = "gt"
    GE = "ge"
    MASKED_EQ = "masked_eq"


class ArgCondition(_Model):
    """``args[index] <op> value`` (with ``mask`` for ``masked_eq``). All conditions of a rule AND."""

    index: int = Field(ge=0, le=5)
    op: ArgOp
    value: int
    mask: int | None = None


class SyscallRule(_Model):
    """Apply ``action`` to calls of ``names`` whose arguments meet every condition."""

    names: tuple[str, ...]
    action: SyscallAction
    conditions: tuple[ArgCondition, ...] = ()
    provenance: Provenance


class Scopes(_Model):
    """Landlock scopes (ABI 6): isolate abstract unix sockets and signals from outside the sandbox."""

    abstract_unix_socket: bool = True
    signal: bool = True


class EnvPolicy(_Model):
    """Environment hygiene for the child: variables kept despite the strip list, and set."""

    keep: tuple[str, ...] = ()
    set: tuple[tuple[str, str], ...] = ()


class Assertion(_Model):
    """A compile-time assertion, e.g. ``assert never write "$HOME/.ssh"``."""

    access: Access
    path: str
    provenance: Provenance


class UnixSocketGrant(_Model):
    """A pathname unix socket the agent may connect to (mediated by the supervisor before ABI 9)."""

    path: str
    provenance: Provenance


class Policy(_Model):
    """A fully resolved policy for one target platform."""

    ir_version: int = IR_VERSION
    name: str
    target: Target
    description: str = ""
    #: The oldest Landlock ABI this profile is written for (``abi N`` pin); None: no pin.
    min_abi: int | None = None
    compat: Compat = Compat.BEST_EFFORT
    deny_strategy: DenyStrategy = DenyStrategy.SPLIT
    grants: tuple[PathGrant, ...] = ()
    denies: tuple[PathDeny, ...] = ()
    network: Network = Network()
    syscalls: tuple[SyscallRule, ...] = ()
    scopes: Scopes = Scopes()
    env: EnvPolicy = EnvPolicy()
    blocked_commands: tuple[str, ...] = ()
    allowed_commands: tuple[str, ...] = ()
    unix_sockets: tuple[UnixSocketGrant, ...] = ()
    protect_metadata: bool = False
    rollback: bool | None = None
    assertions: tuple[Assertion, ...] = ()
    #: Groups applied to every profile that cannot be excluded (names, for reporting).
    mandatory_groups: tuple[str, ...] = ()
    #: SHA-256 of every source file that contributed, keyed by its display name.
    sources: tuple[tuple[str, str], ...] = ()


def json_schema() -> dict[str, object]:
    """The JSON Schema of the IR (``nonoc schema``), for editors and tools."""
    return Policy.model_json_schema()
