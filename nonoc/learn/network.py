"""Turn the network endpoints a command used into network statements.

A trace shows addresses, never the host names behind them, so learning cannot write a
proxy allowlist. The rule is simple and says why in the profile:

* no IP traffic at all: ``network block`` (unix sockets are not IP traffic);
* any IP traffic: ``network open``, with every endpoint listed in a comment and a note that
  ``network proxy { allow "..." }`` with the names behind them would be tighter. Under
  ``network block`` or ``proxy`` seccomp refuses UDP sockets (DNS, for one) and Landlock
  restricts TCP by port only, so anything less than ``open`` may break the command;
* a successful connect to a pathname unix socket: ``unix_socket "path"``;
* a successful connect to an *abstract* unix socket: ``scope abstract_unix off``, since
  Landlock's scope (on by default) refuses abstract sockets made outside the sandbox.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from nonoc.learn.events import Endpoint


@dataclass
class NetworkLesson:
    """Statements to write and the comment lines that explain them."""

    statements: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    unix_sockets: list[str] = field(default_factory=list)
    #: The mode the statements set (``block`` or ``open``).
    mode: str = "block"


def lesson(endpoints: Iterable[Endpoint], *, limit: int = 20) -> NetworkLesson:
    """The network statements for what the command reached."""
    result = NetworkLesson()
    ip = [e for e in endpoints if e.family in ("inet", "inet6")]
    unix = [e for e in endpoints if e.family == "unix"]
    if ip:
        result.mode = "open"
        result.comments.append("IP traffic seen (addresses only: a trace cannot see host names):")
        shown = sorted({e.describe() for e in ip})
        result.comments.extend(f"  {line}" for line in shown[:limit])
        if len(shown) > limit:
            result.comments.append(f"  ... and {len(shown) - limit} more")
        result.comments.append(
            'tighter: `network proxy { allow "HOST" }` with the names behind these addresses'
        )
        result.statements.append("network open")
    else:
        result.statements.append("network block")
    sockets = sorted(
        {
            e.address
            for e in unix
            if e.ok and e.operation == "connect" and not e.address.startswith("@")
        }
    )
    result.unix_sockets = sockets
    abstract = sorted(
        {e.address for e in unix if e.ok and e.operation == "connect" and e.address.startswith("@")}
    )
    if abstract:
        result.comments.append(
            "abstract unix sockets reached ("
            + ", ".join(abstract[:5])
            + "): Landlock's scope refuses "
            "them from inside the sandbox unless `scope abstract_unix off`"
        )
        result.statements.append("scope abstract_unix off")
    return result
