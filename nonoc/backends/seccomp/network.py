"""The seccomp half of ``network block`` and ``network proxy``.

Landlock (ABI 4+) restricts TCP ``bind`` and ``connect`` by port and nothing else: UDP, raw
and packet sockets, SCTP, and io_uring's own socket operations pass it by. These rules close
that gap at ``socket()``, where the domain, type and protocol are plain integers a filter can
read (unlike ``connect``'s address, which sits behind a pointer).

* ``block``: only AF_UNIX sockets can be created; ``socketpair`` only for AF_UNIX.
* ``proxy``: as ``block``, plus AF_INET/AF_INET6 *TCP* sockets so the agent can reach the
  local proxy; Landlock's port rules decide which ports they may connect to. The socket type
  is compared under SOCK_TYPE_MASK, because callers OR in SOCK_NONBLOCK and SOCK_CLOEXEC;
  the protocol must be 0 or IPPROTO_TCP, which keeps out SCTP and MPTCP stream sockets.
* both: io_uring is denied outright; its operations would bypass the socket checks.

Every denial returns EPERM, the answer a program expects from a policy refusal.
"""

from __future__ import annotations

import errno
import json
from functools import cache

from nonoc.backends.seccomp.ir_rules import Condition, SourceRule
from nonoc.backends.seccomp.rules import Action, Op
from nonoc.ir import Network, NetworkMode, Provenance
from nonoc.resources import data_file

DENY = Action("errno", errno.EPERM)
IO_URING = ("io_uring_setup", "io_uring_enter", "io_uring_register")


@cache
def constants() -> dict[str, int]:
    """The symbolic constants shared with the policy language (``constants.json``)."""
    raw = json.loads(data_file("backends/seccomp/constants.json").read_text())
    return {name: int(value) for name, value in raw["constants"].items()}


def network_rules(network: Network) -> list[SourceRule]:
    """The rules that make ``network.mode`` hold for every socket family (ids ``sn0``…)."""
    if network.mode is NetworkMode.OPEN:
        return []
    c = constants()
    unix, inet, inet6 = c["AF_UNIX"], c["AF_INET"], c["AF_INET6"]
    provenance = network.provenance or Provenance(file="<network>", line=0, column=0)
    specs: list[tuple[tuple[str, ...], tuple[Condition, ...]]] = []
    if network.mode is NetworkMode.BLOCKED:
        specs.append((("socket",), (Condition(0, Op.NE, unix),)))
    else:
        specs.append(
            (
                ("socket",),
                (Condition(0, Op.NE, unix), Condition(0, Op.NE, inet), Condition(0, Op.NE, inet6)),
            )
        )
        for family in (inet, inet6):
            specs.append(
                (
                    ("socket",),
                    (
                        Condition(0, Op.EQ, family),
                        Condition(1, Op.MASKED_NE, c["SOCK_STREAM"], c["SOCK_TYPE_MASK"]),
                    ),
                )
            )
            specs.append(
                (
                    ("socket",),
                    (
                        Condition(0, Op.EQ, family),
                        Condition(2, Op.NE, c["IPPROTO_IP"]),
                        Condition(2, Op.NE, c["IPPROTO_TCP"]),
                    ),
                )
            )
    specs.append((("socketpair",), (Condition(0, Op.NE, unix),)))
    specs.append((IO_URING, ()))
    return [
        SourceRule(f"sn{index}", names, DENY, conditions, provenance)
        for index, (names, conditions) in enumerate(specs)
    ]
