"""Add the supervisor's ``notify`` rules to a policy before the seccomp backend compiles it.

Which calls are sent to the supervisor, and why:

* ``--supervised`` — ``open``/``openat`` without ``O_PATH`` (an ``O_PATH`` descriptor reads
  nothing, and Landlock lets it through anyway), ``openat2`` (its flags sit behind a
  pointer) and ``creat``: the opens a question may widen.
* **unix-socket mediation**, on kernels whose Landlock has no unix-socket right (ABI < 9)
  — ``connect``, ``sendto`` *with* a destination (``arg4 != 0``: a register, so the test
  cannot be raced), ``sendmsg`` and ``sendmmsg`` (their destination is behind a pointer).
  On ABI 9 and later, Landlock's ``LANDLOCK_ACCESS_FS_RESOLVE_UNIX`` does the same job in
  the kernel and no rule is added here (see ``docs/supervisor.md``).
* ``protect metadata`` — the chmod, chown, utimes and xattr families and ``file_setattr``,
  and ``ioctl`` with the inode-flag commands (``chattr``).

Rules are ordinary IR ``SyscallRule``s with action ``notify``; the backend ranks actions
as the kernel does, so a policy's own ``deny`` of the same call still wins. The rules
name only calls that exist on the target architecture.
"""

from __future__ import annotations

from dataclasses import dataclass

from nonoc.ir import (
    ArgCondition,
    ArgOp,
    ChainLink,
    Policy,
    Provenance,
    SyscallAction,
    SyscallActionKind,
    SyscallRule,
)
from nonoc.runtime.supervisor.syscalls import METADATA_CALLS, METADATA_IOCTLS

#: The first Landlock ABI with a unix-socket right (``LANDLOCK_ACCESS_FS_RESOLVE_UNIX``).
UNIX_SOCKET_RIGHT_ABI = 9
O_PATH = 0o10000000
_NOTIFY = SyscallAction(kind=SyscallActionKind.NOTIFY)


@dataclass(frozen=True)
class Mediation:
    """Which families of calls the supervisor mediates for one run."""

    opens: bool = False
    sockets: bool = False
    metadata: bool = False

    @property
    def any(self) -> bool:
        """Whether a supervisor (and so a listener) is needed at all."""
        return self.opens or self.sockets or self.metadata


def socket_mediation_needed(landlock_abi: int) -> bool:
    """Whether unix sockets need the supervisor on a kernel with this Landlock ABI."""
    return landlock_abi < UNIX_SOCKET_RIGHT_ABI


def mediation_for(policy: Policy, *, supervised: bool, landlock_abi: int) -> Mediation:
    """What to mediate: opens when supervised, sockets below ABI 9, metadata when asked."""
    return Mediation(
        opens=supervised,
        sockets=socket_mediation_needed(landlock_abi),
        metadata=policy.protect_metadata,
    )


def _provenance(label: str) -> Provenance:
    return Provenance(
        file=f"<{label}>",
        line=0,
        column=0,
        chain=(ChainLink(kind="builtin", name=label, file=f"<{label}>"),),
    )


def _rule(name: str, label: str, *conditions: ArgCondition) -> SyscallRule:
    return SyscallRule(
        names=(name,), action=_NOTIFY, conditions=conditions, provenance=_provenance(label)
    )


def notify_rules(mediation: Mediation, arch: str) -> tuple[SyscallRule, ...]:
    """The ``notify`` rules for ``mediation`` on ``arch`` (only calls that exist there)."""
    from nonoc.backends.seccomp import tables

    table = tables.load(arch)
    rules: list[SyscallRule] = []

    def add(name: str, label: str, *conditions: ArgCondition) -> None:
        if table.lookup(name) is not None:
            rules.append(_rule(name, label, *conditions))

    if mediation.opens:
        label = "nono run --supervised"
        add("open", label, ArgCondition(index=1, op=ArgOp.MASKED_EQ, value=0, mask=O_PATH))
        add("openat", label, ArgCondition(index=2, op=ArgOp.MASKED_EQ, value=0, mask=O_PATH))
        add("openat2", label)
        add("creat", label)
    if mediation.sockets:
        label = "unix socket mediation"
        add("connect", label)
        add("sendto", label, ArgCondition(index=4, op=ArgOp.NE, value=0))
        add("sendmsg", label)
        add("sendmmsg", label)
    if mediation.metadata:
        label = "protect metadata"
        for name in METADATA_CALLS:
            add(name, label)
        for command in METADATA_IOCTLS:
            add("ioctl", label, ArgCondition(index=1, op=ArgOp.EQ, value=command))
    return tuple(rules)


def with_notify_rules(policy: Policy, mediation: Mediation, arch: str) -> Policy:
    """``policy`` with the supervisor's rules appended to its syscall rules."""
    rules = notify_rules(mediation, arch)
    if not rules:
        return policy
    return policy.model_copy(update={"syscalls": (*policy.syscalls, *rules)})


def notify_statements(mediation: Mediation, arch: str) -> str:
    """The same rules as policy-language text, for ``compile_profile(flags=...)``."""
    lines = []
    for rule in notify_rules(mediation, arch):
        text = f"syscall {rule.names[0]} notify"
        tests = []
        for condition in rule.conditions:
            if condition.op is ArgOp.MASKED_EQ:
                tests.append(f"arg{condition.index} & {condition.mask:#x} == {condition.value:#x}")
            else:
                symbol = {ArgOp.EQ: "==", ArgOp.NE: "!="}[condition.op]
                tests.append(f"arg{condition.index} {symbol} {condition.value:#x}")
        if tests:
            text += " if " + " and ".join(tests)
        lines.append(text)
    return "\n".join(lines) + ("\n" if lines else "")


def notify_filter(mediation: Mediation, arch: str) -> bytes:
    """A filter of its own holding only the ``notify`` rules (raw ``sock_filter[]`` bytes).

    ``nono run`` installs it as a second filter, with the listener, after the bundle's own
    filter: seccomp runs every installed filter and keeps the strictest action, so the
    bundle's denies still beat ``notify``, and the bundle needs no recompiling to be
    supervised. Empty bytes when nothing is mediated.
    """
    import base64

    from nonoc.backends import seccomp
    from nonoc.backends.host import HostFacts

    rules = notify_rules(mediation, arch)
    if not rules:
        return b""
    policy = Policy(name="nono-supervisor", target="linux", syscalls=rules)
    artifact, _ = seccomp.lower(policy, HostFacts(target="linux", arch=arch))
    return base64.b64decode(str(artifact["program"]))
