"""What a traced command did, as nono learn records it: file accesses and network endpoints.

These are the facts the tracer hands to the folding step, free of any tracer's syntax:
a ``FileAccess`` names one absolute host path, the access the kernel would check for it
(read, write, execute), and whether the call succeeded. Only calls that Landlock mediates
become accesses (opening, executing, creating, removing, renaming); ``stat``, ``access``,
``readlink``, ``chmod`` and the like never need a grant and are not recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Mode = Literal["read", "write", "exec"]

#: The accesses in the order statements are written.
MODES: tuple[Mode, ...] = ("read", "write", "exec")


@dataclass(frozen=True)
class FileAccess:
    """One attempt at a path.

    ``path`` is absolute: the path the kernel resolved (symlinks followed) when the tracer
    could tell, else the path asked for, made absolute against the caller's working
    directory. ``directory`` is true when the path is a directory that must itself be
    granted (listing it, or creating and removing entries in it). ``error`` is the errno
    name of a failed attempt (``ENOENT``), None when it succeeded.
    """

    path: str
    modes: frozenset[Mode]
    syscall: str
    pid: int = 0
    directory: bool = False
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the attempt succeeded."""
        return self.error is None


@dataclass(frozen=True)
class Endpoint:
    """A network address the command connected to, sent to, or bound.

    ``family`` is ``inet``, ``inet6`` or ``unix``; ``transport`` is ``tcp``, ``udp`` or
    ``other`` (``unknown`` when the socket was created before tracing began); ``address``
    is the IP address or the unix socket's path (``@name`` for an abstract one).
    """

    family: Literal["inet", "inet6", "unix"]
    operation: Literal["connect", "bind", "send"]
    address: str
    port: int | None = None
    transport: str = "unknown"
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the call succeeded (a refused connection still shows intent)."""
        return self.error is None

    def describe(self) -> str:
        """``connect tcp 127.0.0.1:443`` or ``connect unix /run/x.sock``, with the error if any."""
        where = self.address
        if self.port is not None:
            where = (
                f"[{self.address}]:{self.port}"
                if self.family == "inet6"
                else f"{where}:{self.port}"
            )
        transport = "unix" if self.family == "unix" else self.transport
        suffix = f" ({self.error})" if self.error else ""
        return f"{self.operation} {transport} {where}{suffix}"


@dataclass
class Trace:
    """Everything one traced run produced."""

    accesses: list[FileAccess] = field(default_factory=list)
    endpoints: list[Endpoint] = field(default_factory=list)
    #: Process ids seen (the command and every descendant).
    pids: set[int] = field(default_factory=set)
    #: The exit status of the command (None when unknown, e.g. a parsed log).
    exit_status: int | None = None
    #: Lines of the tracer's output that could not be understood (kept for the summary).
    unparsed: int = 0
