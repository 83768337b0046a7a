"""``syscall-equivalent``: a system call denied while another call that does the same stays open.

A seccomp filter names calls, not operations: denying ``open`` leaves ``openat`` and
``openat2``, which open files just the same; denying ``clone`` leaves ``clone3``. For each
family below, when a rule with a restricting action (deny, kill, trap, notify) names one
member, every other member that exists on the architecture should be named by some
restricting rule too (any rule: the mandatory hardening group closes ``clone3`` with
ENOSYS, and that counts). Checked per architecture nono compiles for, only for profiles
(a group alone is often one half of a pair another group completes).

The check is by name: it does not compare argument conditions (``openat``'s flags are its
third argument, ``open``'s its second).
"""

from __future__ import annotations

from collections.abc import Iterator

from nonoc.backends.seccomp import policy_rules, tables
from nonoc.backends.seccomp.ir_rules import SourceRule
from nonoc.lint.findings import Finding, finding
from nonoc.lint.subject import Subject
from nonoc.resolve.merge import provenance_key

#: Calls that reach the same kernel operation by another entry point.
FAMILIES: tuple[tuple[str, ...], ...] = (
    ("open", "openat", "openat2", "creat"),
    ("clone", "clone3"),
    ("execve", "execveat"),
    ("dup2", "dup3"),
    ("rename", "renameat", "renameat2"),
    ("unlink", "unlinkat"),
    ("rmdir", "unlinkat"),
    ("mkdir", "mkdirat"),
    ("mknod", "mknodat"),
    ("link", "linkat"),
    ("symlink", "symlinkat"),
    ("readlink", "readlinkat"),
    ("chmod", "fchmod", "fchmodat", "fchmodat2"),
    ("chown", "fchown", "lchown", "fchownat"),
    ("truncate", "ftruncate"),
    ("utime", "utimes", "futimesat", "utimensat"),
    ("access", "faccessat", "faccessat2"),
    ("setxattr", "lsetxattr", "fsetxattr", "setxattrat"),
    ("removexattr", "lremovexattr", "fremovexattr", "removexattrat"),
    ("pipe", "pipe2"),
    ("accept", "accept4"),
    ("sendto", "sendmsg", "sendmmsg"),
    ("recvfrom", "recvmsg", "recvmmsg"),
    ("kill", "tkill", "tgkill", "pidfd_send_signal"),
    ("mount", "fsmount", "move_mount"),
    ("kexec_load", "kexec_file_load"),
    ("init_module", "finit_module"),
    ("process_vm_readv", "process_vm_writev"),
)
#: Actions that restrict; ``allow`` and ``log`` let the call through.
RESTRICTING = frozenset({"errno", "kill_process", "trap", "notify"})


def check(subject: Subject) -> Iterator[Finding]:
    """A warning per family left half-closed, at the first rule that closes a member."""
    if subject.target != "linux" or subject.kind != "profile":
        return
    rules = sorted(
        (r for r in policy_rules(subject.policy) if r.action.kind in RESTRICTING),
        key=lambda r: provenance_key(r.provenance) if r.provenance else (),
    )
    closed: dict[str, SourceRule] = {}
    for rule in rules:
        for name in rule.names:
            closed.setdefault(name, rule)
    for family in FAMILIES:
        named = [name for name in family if name in closed]
        if not named:
            continue
        open_by_arch: dict[str, list[str]] = {}
        for arch in tables.ARCHES:
            table = tables.load(arch)
            missing = [n for n in family if n not in closed and table.lookup(n) is not None]
            if missing:
                open_by_arch[arch] = missing
        if not open_by_arch:
            continue
        first = min(
            (closed[n] for n in named),
            key=lambda r: provenance_key(r.provenance) if r.provenance else (),
        )
        yield _report(subject, first, named, open_by_arch)


def _report(
    subject: Subject, rule: SourceRule, named: list[str], open_by_arch: dict[str, list[str]]
) -> Finding:
    missing = sorted({n for names in open_by_arch.values() for n in names})
    only = ""
    if len(open_by_arch) < len(tables.ARCHES):
        only = " on " + ", ".join(sorted(open_by_arch))
    span = subject.span(rule.provenance) if rule.provenance else None
    return finding(
        "syscall-equivalent",
        f"{', '.join(named)} {'is' if len(named) == 1 else 'are'} restricted but "
        f"{', '.join(missing)} {'stays' if len(missing) == 1 else 'stay'} open{only}: "
        "the same operation is reachable through "
        f"{'it' if len(missing) == 1 else 'them'}",
        span,
        notes=(f"add `syscall {', '.join(missing)} deny` (or the same action as this rule)",),
        target="linux",
    )
