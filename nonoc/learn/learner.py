"""From a trace to a profile's content: base, groups, folded rules, what was left out.

The order of decisions:

1. every successful access becomes (path, mode) items; ``/proc/<pid>`` of a traced process
   becomes ``/proc/self``; an executed file adds its ELF interpreter or ``#!`` program;
2. items under a deny of the base policy (the credential groups are mandatory, so always
   there) are *left out*: they are reported, never granted;
3. items the base profile already grants are dropped;
4. stdlib groups (``system``, ``python_runtime``...) that grant what is left are ``use``d,
   in ``policies.CANDIDATE_GROUPS`` order;
5. the rest is folded into directory rules (``fold``).

Failed attempts are never granted: the command did without them. They are counted, and
the ones the system refused (not merely missing files) are listed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from nonoc import ir, paths
from nonoc.learn import policies
from nonoc.learn.coverage import Coverage
from nonoc.learn.events import MODES, Mode, Trace
from nonoc.learn.fold import Item, Root, Rule, fold, normalize_proc, place, roots_for
from nonoc.learn.interpreters import interpreters
from nonoc.learn.network import NetworkLesson, lesson


@dataclass(frozen=True)
class LeftOut:
    """An access the policy denies: ``template`` with ``modes``, and the deny's source."""

    template: str
    modes: frozenset[Mode]
    source: str

    def describe(self) -> str:
        """``read $HOME/.ssh/id_rsa: denied by group deny_credentials (stdlib/...:15)``."""
        modes = "+".join(m for m in MODES if m in self.modes)
        return f"{modes} {self.template}: denied by {self.source}"


@dataclass
class Lesson:
    """Everything a learned profile says, before it is written as text."""

    command: list[str]
    base: str | None
    base_note: str
    #: The file to import for ``base`` (when ``--profile`` named a file), else None.
    base_import: str | None
    groups: list[str]
    rules: list[Rule]
    network: NetworkLesson
    left_out: list[LeftOut]
    failed: list[tuple[str, str, str]]  # (mode, template, errno)
    missing: int
    too_broad: list[tuple[Mode, str]]  # (mode, template)
    #: Names of the command that the base would refuse to start (``command allow`` them).
    command_allow: list[str]
    processes: int
    accesses: int
    exit_status: int | None

    @property
    def empty(self) -> bool:
        """Whether nothing needs adding to the base."""
        return not (self.groups or self.rules or self.network.unix_sockets or self.command_allow)


def host_values(cwd: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The template variables on this host, with ``CWD`` the directory the command ran in."""
    values = paths.host_variables(os.environ if environ is None else environ)
    values["CWD"] = cwd
    return values


def items_of(trace: Trace) -> list[Item]:
    """The successful accesses of ``trace`` as (path, mode) items, deduplicated, in order."""
    seen: dict[Item, None] = {}
    for access in trace.accesses:
        if not access.ok or not access.path.startswith("/"):
            continue
        path = normalize_proc(access.path, trace.pids)
        for mode in MODES:
            if mode in access.modes:
                seen.setdefault(Item(path, mode, access.directory), None)
        if "exec" in access.modes:
            for program in interpreters(access.path):
                seen.setdefault(Item(os.path.realpath(program), "exec"), None)
    return list(seen)


def credential_suffixes(coverage: Coverage) -> list[tuple[tuple[str, ...], str]]:
    """The denies written under ``$HOME`` as component suffixes (``(".ssh",)``), with their source."""
    suffixes: dict[tuple[str, ...], str] = {}
    for rule in coverage.denies:
        if rule.template.startswith("$HOME/"):
            parts = tuple(p for p in rule.template.split("/")[1:] if p)
            suffixes.setdefault(parts, rule.source)
    return sorted(suffixes.items())


def other_homes() -> set[tuple[str, ...]]:
    """The home directories of this host's accounts (and ``/root``), as components."""
    import pwd

    homes = {"/root"}
    try:
        homes.update(entry.pw_dir for entry in pwd.getpwall())
    except OSError:
        pass
    return {tuple(p for p in home.split("/") if p) for home in homes if home and home != "/"}


def lookalike(
    path: str, suffixes: list[tuple[tuple[str, ...], str]], homes: set[tuple[str, ...]]
) -> str | None:
    """The source of a ``$HOME`` deny that ``path`` falls under in *another* account's home.

    ``/root/.ssh/id_rsa`` is not under this ``$HOME`` when learning runs with another one,
    yet it is the same kind of secret: it is left out as well.
    """
    parts = tuple(p for p in path.split("/") if p)
    for home in homes:
        if parts[: len(home)] != home:
            continue
        below = parts[len(home) :]
        for suffix, source in suffixes:
            if below[: len(suffix)] == suffix:
                return f"{source}, as ~/{'/'.join(suffix)} of {'/' + '/'.join(home)}"
    return None


def command_allowances(command: Sequence[str], policy: ir.Policy) -> list[str]:
    """The names of ``command`` that ``policy`` (or nono's built-in list) would refuse to start.

    ``nono run`` compares the name typed and the name of the file it resolves to.
    """
    import shutil

    if not command:
        return []
    names = {os.path.basename(command[0])}
    resolved = shutil.which(command[0])
    if resolved:
        names.add(os.path.basename(os.path.realpath(resolved)))
    blocked = set(policy.blocked_commands)
    try:
        from nonoc.runtime.flags import BLOCKED_COMMANDS

        blocked.update(BLOCKED_COMMANDS)
    except ImportError:  # an installation without the runtime: the profile's list only
        pass
    return sorted(n for n in names if n in blocked and n not in policy.allowed_commands)


def _template(path: str, roots: list[Root]) -> str:
    root, below = place(path, roots)
    return root.template_for(below)


def learn(
    trace: Trace,
    command: Sequence[str],
    *,
    cwd: str,
    base: str | None = None,
    base_policy: ir.Policy | None = None,
    candidates: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Lesson:
    """Decide what a profile for ``trace`` must say.

    ``base`` names the profile to extend (None: the closest of ``candidates``, which
    default to the built-in profiles). ``base_policy`` replaces the base outright (the
    profile being merged into); nothing is then ``extends``-ed.
    """
    values = host_values(cwd, environ)
    roots = roots_for(values)
    base_import: str | None = None
    items = items_of(trace)
    base_note = ""
    if base_policy is not None:
        policy: ir.Policy | None = base_policy
        base = None
    elif base is not None:
        policy = policies.resolve_linux(base)
        base_note = f"extends {policy.name}: chosen with --profile"
        if policies.looks_like_path(base):
            # A profile in a file is reached by importing the file, then named in `extends`.
            base_import = os.path.abspath(base)
            base = policy.name
    else:
        names = policies.builtin_profiles() if candidates is None else list(candidates)
        choice = policies.choose_base([(i.path, i.mode) for i in items], names, values)
        if choice is None:
            policy = None
            base_note = "no built-in profile to extend: this installation ships none"
        else:
            policy, base = choice.policy, choice.name
            base_note = (
                f"extends {base}: the closest built-in profile (it already grants "
                f"{choice.covered} of the {choice.total} accesses seen; closeness {choice.score:.2f})"
            )
    # The mandatory groups' denies hold whatever the base: resolve them alone if needed.
    reference = policy if policy is not None else policies.probe_policy("")
    base_coverage = Coverage.of_policy(reference, values)

    left: dict[tuple[str, str], set[Mode]] = {}
    remaining: list[Item] = []
    lookalikes = credential_suffixes(base_coverage)
    homes = other_homes()
    for item in items:
        deny = base_coverage.denying(item.path)
        source = deny.source if deny is not None else lookalike(item.path, lookalikes, homes)
        if source is not None:
            left.setdefault((_template(item.path, roots), source), set()).add(item.mode)
        elif base_coverage.granting(item.path, item.mode) is None:
            remaining.append(item)
    left_out = [LeftOut(t, frozenset(m), s) for (t, s), m in sorted(left.items())]

    groups: list[str] = []
    denied_templates = {(rule.template, rule.tree) for rule in base_coverage.denies}
    candidates_here = policies.candidate_groups()
    if remaining and candidates_here:
        # One resolution tells whether any group could help; each group alone costs one more.
        union = Coverage.of_policy(policies.union_policy(tuple(candidates_here)), values)
        if all(union.granting(i.path, i.mode) is None for i in remaining):
            candidates_here = []
    for name in candidates_here:
        if not remaining:
            break
        group = Coverage.of_policy(policies.group_policy(name), values)
        if any((rule.template, rule.tree) in denied_templates for rule in group.grants):
            continue  # the base denies a path this group grants: using it would not compile
        still = [i for i in remaining if group.granting(i.path, i.mode) is None]
        if len(still) < len(remaining):
            groups.append(name)
            remaining = still

    rules, broad = fold(remaining, roots)
    too_broad = sorted({(item.mode, _template(item.path, roots)) for item in broad})
    failed: dict[tuple[str, str, str], None] = {}
    missing = 0
    for access in trace.accesses:
        if access.ok:
            continue
        if access.error in ("ENOENT", "ENOTDIR", "EEXIST", "ENOTEMPTY", "ELOOP", "ENAMETOOLONG"):
            missing += 1  # the file system's answer, not a permission: no grant would change it
            continue
        mode = next(m for m in MODES if m in access.modes)
        failed.setdefault(
            (mode, _template(normalize_proc(access.path, trace.pids), roots), access.error or "?"),
            None,
        )
    return Lesson(
        command=list(command),
        base=base,
        base_note=base_note,
        base_import=base_import,
        groups=groups,
        rules=rules,
        network=lesson(trace.endpoints),
        left_out=left_out,
        failed=sorted(failed),
        missing=missing,
        too_broad=too_broad,
        command_allow=command_allowances(command, reference),
        processes=len(trace.pids),
        accesses=len(items),
        exit_status=trace.exit_status,
    )
