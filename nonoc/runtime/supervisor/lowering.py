"""The supervisor's ``notify`` rules, as a filter of their own or added to a policy.

Which calls are sent to the supervisor, and why:

* ``--supervised`` — ``open``/``openat`` without ``O_PATH`` (an ``O_PATH`` descriptor reads
  nothing, and Landlock lets it through anyway), ``openat2`` (its flags sit behind a
  pointer) and ``creat``: the opens a question may widen.
* **unix-socket mediation**, on kernels whose Landlock has no unix-socket right (ABI < 9)
  — ``connect``, ``sendto`` *with* a destination (``arg4 != 0``: a register, so the test
  cannot be raced), ``sendmsg`` and ``sendmmsg`` (their destination is behind a pointer);
  and ``bind``, so that the sandbox's own sockets are known (:mod:`bound`).
  On ABI 9 and later, Landlock's ``LANDLOCK_ACCESS_FS_RESOLVE_UNIX`` does the same job in
  the kernel and no rule is needed (see ``docs/supervisor.md``).
* ``protect metadata`` — the chmod, chown, utimes and xattr families and ``file_setattr``,
  and ``ioctl`` with the inode-flag commands (``chattr``).

Three forms of the same rules, each naming only calls that exist on the architecture:
:func:`notify_filter` compiles them into a second filter with the seccomp backend's own
range builder and code generator (``nono run`` installs it after the bundle's; it needs
neither pydantic nor the IR, which a cached run must not pay to import);
:func:`with_notify_rules` adds them to a policy as IR ``SyscallRule``s; and
:func:`notify_statements` writes them as policy text for ``compile_profile(flags=…)``.
Seccomp ranks actions as the kernel does, so a policy's own ``deny`` still beats ``notify``.
"""

from __future__ import annotations

from nonoc.runtime.supervisor.mediation import (  # noqa: F401 - re-exported
    RESOLVE_UNIX,
    UNIX_SOCKET_RIGHT_ABI,
    Mediation,
    notify_filter,
    socket_mediation_needed,
)

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs ``nono run`` milliseconds; it imports this module every run
    from nonoc.ir import Policy, SyscallRule

O_PATH = 0o10000000


class NotifyRule:
    """``notify`` for ``name`` when every ``(arg, op, value, mask)`` condition holds.

    ``op`` is ``eq``, ``ne`` or ``masked_eq`` (the IR's names); ``label`` says which
    family asked for it (the rule's provenance).
    """

    __slots__ = ("conditions", "label", "name")

    def __init__(
        self, name: str, label: str, conditions: tuple[tuple[int, str, int, int | None], ...] = ()
    ) -> None:
        self.name, self.label, self.conditions = name, label, conditions


def mediation_for(policy: Policy, *, supervised: bool, landlock_abi: int) -> Mediation:
    """What to mediate: opens when supervised, sockets below ABI 9, metadata when asked."""
    return Mediation(
        opens=supervised,
        sockets=socket_mediation_needed(landlock_abi),
        metadata=policy.protect_metadata,
    )


def rules_for(mediation: Mediation) -> tuple[NotifyRule, ...]:
    """Every rule ``mediation`` calls for, on any architecture."""
    from nonoc.runtime.supervisor.syscalls import METADATA_CALLS, METADATA_IOCTLS

    rules: list[NotifyRule] = []
    if mediation.opens:
        label = "nono run --supervised"
        rules.append(NotifyRule("open", label, ((1, "masked_eq", 0, O_PATH),)))
        rules.append(NotifyRule("openat", label, ((2, "masked_eq", 0, O_PATH),)))
        rules.append(NotifyRule("openat2", label))
        rules.append(NotifyRule("creat", label))
    if mediation.sockets:
        label = "unix socket mediation"
        rules.append(NotifyRule("connect", label))
        rules.append(NotifyRule("sendto", label, ((4, "ne", 0, None),)))
        rules.append(NotifyRule("sendmsg", label))
        rules.append(NotifyRule("sendmmsg", label))
        rules.append(NotifyRule("bind", label))  # recorded, then continued (``bound``)
    if mediation.metadata:
        label = "protect metadata"
        rules.extend(NotifyRule(name, label) for name in METADATA_CALLS)
        rules.extend(NotifyRule("ioctl", label, ((1, "eq", c, None),)) for c in METADATA_IOCTLS)
    return tuple(rules)


def _on(arch: str, rules: tuple[NotifyRule, ...]) -> list[NotifyRule]:
    from nonoc.backends.seccomp import tables

    table = tables.load(arch)
    return [rule for rule in rules if table.lookup(rule.name) is not None]


def compile_notify_filter(mediation: Mediation, arch: str) -> bytes:
    """Compile :func:`notify_filter`'s program with the seccomp backend's range builder and
    code generator (and check it with its interpreter)."""
    from nonoc.backends.seccomp import bpf, codegen, interp, tables
    from nonoc.backends.seccomp.rules import (
        ALLOW,
        ENOSYS,
        KILL_PROCESS,
        Action,
        ArgTest,
        Clause,
        Op,
        rule_set_from_clauses,
    )

    rules = _on(arch, rules_for(mediation))
    if not rules:
        return b""
    table = tables.load(arch)
    ops = {"eq": Op.EQ, "ne": Op.NE, "masked_eq": Op.MASKED_EQ}
    notify = Action("notify")
    clauses: dict[int, list[Clause]] = {}
    names: dict[int, str] = {}
    for index, rule in enumerate(rules):
        call = table.lookup(rule.name)
        assert call is not None
        tests = []
        for arg, op, value, mask in rule.conditions:
            full = (1 << call.widths[arg]) - 1
            tests.append(
                ArgTest(
                    arg,
                    call.widths[arg],
                    ops[op],
                    value & full,
                    full if mask is None else mask & full,
                )
            )
        clauses.setdefault(call.nr, []).append(Clause(tuple(tests), notify, (f"n{index}",)))
        names[call.nr] = call.name
    rule_set = rule_set_from_clauses(
        table, clauses, names, default=ALLOW, bad_arch=KILL_PROCESS, x32=ENOSYS
    )
    program = codegen.generate(rule_set)
    interp.check(program)
    return bpf.encode(program)


def notify_rules(mediation: Mediation, arch: str) -> tuple[SyscallRule, ...]:
    """The ``notify`` rules for ``mediation`` on ``arch``, as IR rules."""
    from nonoc.ir import (
        ArgCondition,
        ArgOp,
        ChainLink,
        Provenance,
        SyscallAction,
        SyscallActionKind,
        SyscallRule,
    )

    action = SyscallAction(kind=SyscallActionKind.NOTIFY)
    out = []
    for rule in _on(arch, rules_for(mediation)):
        where = f"<{rule.label}>"
        provenance = Provenance(
            file=where,
            line=0,
            column=0,
            chain=(ChainLink(kind="builtin", name=rule.label, file=where),),
        )
        conditions = tuple(
            ArgCondition(index=arg, op=ArgOp(op), value=value, mask=mask)
            for arg, op, value, mask in rule.conditions
        )
        out.append(
            SyscallRule(
                names=(rule.name,), action=action, conditions=conditions, provenance=provenance
            )
        )
    return tuple(out)


def with_notify_rules(policy: Policy, mediation: Mediation, arch: str) -> Policy:
    """``policy`` with the supervisor's rules appended to its syscall rules."""
    rules = notify_rules(mediation, arch)
    if not rules:
        return policy
    updated: Policy = policy.model_copy(update={"syscalls": (*policy.syscalls, *rules)})
    return updated


def notify_statements(mediation: Mediation, arch: str) -> str:
    """The same rules as policy-language text, for ``compile_profile(flags=...)``."""
    symbols = {"eq": "==", "ne": "!="}
    lines = []
    for rule in _on(arch, rules_for(mediation)):
        tests = []
        for arg, op, value, mask in rule.conditions:
            if op == "masked_eq":
                tests.append(f"arg{arg} & {mask:#x} == {value:#x}")
            else:
                tests.append(f"arg{arg} {symbols[op]} {value:#x}")
        condition = " if " + " and ".join(tests) if tests else ""
        lines.append(f"syscall {rule.name} notify{condition}")
    return "\n".join(lines) + ("\n" if lines else "")


#: Every combination of families, for the precompiled table.
ALL_MEDIATIONS = tuple(
    Mediation(opens, sockets, metadata)
    for opens in (False, True)
    for sockets in (False, True)
    for metadata in (False, True)
    if opens or sockets or metadata
)


def generated_table() -> str:
    """The source of :mod:`notify_filters`: every program and the mediated calls' numbers."""
    import base64

    from nonoc.backends.seccomp import tables
    from nonoc.runtime.supervisor.syscalls import mediated_names

    lines = [
        '"""Precompiled notify-only filters and the numbers of the mediated calls, per arch.',
        "",
        "Generated by ``nonoc.runtime.supervisor.lowering.generated_table()``; do not edit.",
        "tests/runtime/supervisor/test_supervisor_units.py fails when it is out of date.",
        '"""',
        "",
        "PROGRAMS: dict[str, dict[str, str]] = {",
    ]
    for arch in tables.ARCHES:
        lines.append(f'    "{arch}": {{')
        for mediation in ALL_MEDIATIONS:
            program = base64.b64encode(compile_notify_filter(mediation, arch)).decode()
            lines.append(f'        "{mediation.key}": (')
            lines.extend(f'            "{program[i : i + 80]}"' for i in range(0, len(program), 80))
            lines.append("        ),")
        lines.append("    },")
    lines.append("}")
    lines.append("")
    lines.append("NAMES: dict[str, dict[int, str]] = {")
    for arch in tables.ARCHES:
        table = tables.load(arch)
        found = {call.nr: call.name for name in mediated_names() if (call := table.lookup(name))}
        lines.append(f'    "{arch}": {{')
        lines.extend(f'        {nr}: "{found[nr]}",' for nr in sorted(found))
        lines.append("    },")
    lines.append("}")
    return "\n".join(lines) + "\n"
