"""Give supervisor threads the sandbox's TCP rules: the kernel judges the calls they make for it.

When the supervisor performs a ``connect`` or a send for the sandboxed process (see
:mod:`sockets`), it must not become a way around the policy's TCP port rules. Landlock
restricts one *thread* at a time: the pool threads that perform inet calls restrict
themselves with the same handled TCP rights and the same port rules as the sandbox (and
nothing else: no filesystem right is handled, so they can still reach sockets by path).
The kernel then answers their ``connect`` exactly as it would have answered the agent's.
"""

from __future__ import annotations

from nonoc.launch import landlock, rights


class NetRules:
    """The sandbox's TCP rules on this host: handled net rights and ``(port, rights)`` rules."""

    __slots__ = ("handled", "ports")

    def __init__(
        self, handled: tuple[str, ...], ports: tuple[tuple[int, tuple[str, ...]], ...] = ()
    ) -> None:
        self.handled, self.ports = handled, ports

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NetRules) and (self.handled, self.ports) == (
            other.handled,
            other.ports,
        )

    def __hash__(self) -> int:
        return hash((self.handled, self.ports))

    def __repr__(self) -> str:
        return f"NetRules(handled={self.handled!r}, ports={self.ports!r})"

    @property
    def restrictive(self) -> bool:
        """Whether Landlock handles any TCP right here (else there is nothing to copy)."""
        return bool(self.handled)


def restrict_thread(rules: NetRules) -> None:
    """Apply ``rules`` to the calling thread (irreversible; ``no_new_privs`` on this thread).

    Raises ``OSError`` when the kernel refuses: a pool thread that cannot be restricted
    must not serve (the pool initializer's failure stops the pool).
    """
    if not rules.restrictive:
        return
    ruleset = landlock.create_ruleset(0, rights.mask("net", list(rules.handled)), 0)
    try:
        for port, access in rules.ports:
            landlock.add_port_rule(ruleset, port, rights.mask("net", list(access)))
        landlock.set_no_new_privs()
        landlock.restrict_self(ruleset)
    finally:
        import os

        os.close(ruleset)
