"""What the supervisor mediates for one run, and the notify-only filter that asks for it.

The part of :mod:`lowering` that ``nono run`` needs on every run (its hook decides what to
mediate and takes the precompiled filter), kept apart so that a run does not load the
rest: the rules as IR or policy text, and the compiler used when no precompiled program
fits. :mod:`lowering` re-exports all of it.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Collection

#: The first Landlock ABI with a unix-socket right (``LANDLOCK_ACCESS_FS_RESOLVE_UNIX``).
UNIX_SOCKET_RIGHT_ABI = 9
#: That right's name (``LANDLOCK_ACCESS_FS_RESOLVE_UNIX``) in a rule table's ``handled_fs``.
RESOLVE_UNIX = "RESOLVE_UNIX"


class Mediation:
    """Which families of calls the supervisor mediates for one run.

    A plain class (no dataclass): ``nono run`` imports this module on every run.
    """

    __slots__ = ("metadata", "opens", "sockets")

    def __init__(self, opens: bool = False, sockets: bool = False, metadata: bool = False) -> None:
        self.opens, self.sockets, self.metadata = opens, sockets, metadata

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mediation) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __repr__(self) -> str:
        return f"Mediation(opens={self.opens}, sockets={self.sockets}, metadata={self.metadata})"

    @property
    def any(self) -> bool:
        """Whether a supervisor (and so a listener) is needed at all."""
        return self.opens or self.sockets or self.metadata

    @property
    def key(self) -> str:
        """``o``, ``s``, ``m`` for each family mediated, in that order (``""``: none)."""
        return "o" * self.opens + "s" * self.sockets + "m" * self.metadata


def socket_mediation_needed(landlock_abi: int, handled_fs: Collection[str] | None = None) -> bool:
    """Whether unix sockets need the supervisor on a kernel with this Landlock ABI.

    Below ABI 9, always. From ABI 9, Landlock does it only for a rule table that handles
    its unix-socket right (``handled_fs``, the bundle's table): nonoc does not write that
    right yet, so a table given here without it keeps the supervisor on.
    """
    if landlock_abi < UNIX_SOCKET_RIGHT_ABI:
        return True
    return handled_fs is not None and RESOLVE_UNIX not in handled_fs


def notify_filter(mediation: Mediation, arch: str) -> bytes:
    """A filter of its own holding only the ``notify`` rules (raw ``sock_filter[]`` bytes).

    Everything else is allowed; a foreign architecture is killed and x32 numbers fail with
    ENOSYS, as in every filter nono compiles. Empty bytes when nothing is mediated. The
    programs for nono's architectures are precompiled in :mod:`notify_filters` (importing
    the seccomp backend costs a run ~100 ms); a test keeps them equal to
    :func:`lowering.compile_notify_filter`'s.
    """
    import binascii

    from nonoc.runtime.supervisor.notify_filters import PROGRAMS

    if not mediation.any:
        return b""
    encoded = PROGRAMS.get(arch, {}).get(mediation.key)
    if encoded is not None:
        return binascii.a2b_base64(encoded)
    from nonoc.runtime.supervisor.lowering import compile_notify_filter

    return compile_notify_filter(mediation, arch)
