"""``nono why``: would this profile (or bundle) let the agent do that, and which rule says so?

A path question is answered the way the launcher would enforce it on *this* host: for
Linux from the Landlock rule table, through the launcher's own plan
(``nonoc.launch.plan.build``: variables expanded, symlinks resolved, denies placed, trees
split around denies, rights masked to this kernel's ABI), so the answer cannot drift from
what ``nono exec`` does. The table comes from a verified bundle (``--bundle``) or from
compiling a profile through the front end and the Landlock backend (``--profile``). For
the macOS target, which has no rule table, a profile's policy is judged directly: deny
wins, a tree grant covers what lies beneath it, by real path.

A network question reads the network mode, the TCP port rules and the proxy's allowlist.

Every answer names the rules that decided it with their provenance: the file, line and
column of the statement, and the chain of profiles, ``extends`` and groups that brought it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from nonoc import paths
from nonoc.errors import NonoError, UsageError

OPS = ("read", "write", "exec")


@dataclass
class RuleRef:
    """A rule that took part in an answer, and where it came from."""

    id: str
    role: str  # deny, grant, overridden, split, skipped, port, proxy-host, network
    summary: str
    provenance: dict[str, Any] | None = None


@dataclass
class Answer:
    """ALLOWED or DENIED, why, and the rules behind it."""

    question: dict[str, Any]
    target: str
    origin: dict[str, str]
    allowed: bool
    reason: str
    rules: list[RuleRef] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def decision(self) -> str:
        """``ALLOWED`` or ``DENIED``."""
        return "ALLOWED" if self.allowed else "DENIED"


@dataclass
class Evidence:
    """What answers are computed from: one target's rule table, network and provenance."""

    target: str
    origin: dict[str, str]
    provenance: dict[str, Any]
    table: dict[str, Any] | None = None  # linux: the Landlock rule table
    policy: Any = None  # the IR policy (profiles only)
    network: str = "open"
    ports: list[tuple[str, int, str]] = field(default_factory=list)  # (id, port, direction)
    hosts: list[tuple[str, str]] = field(default_factory=list)  # (id, pattern)
    mandatory: tuple[str, ...] = ()

    def ref(self, rule_id: str, role: str, summary: str) -> RuleRef:
        """A rule reference with the rule's provenance, if the evidence records it; a group
        that every profile gets (mandatory) is marked in the chain."""
        entry = self.provenance.get(rule_id)
        provenance = dict(entry) if isinstance(entry, dict) else None
        if provenance is not None and self.mandatory:
            chain = [dict(link) for link in provenance.get("chain", [])]
            for link in chain[1:2]:
                if link.get("kind") == "group" and link.get("name") in self.mandatory:
                    link["mandatory"] = True
            provenance["chain"] = chain
        return RuleRef(rule_id, role, summary, provenance)


# --------------------------------------------------------------------------- evidence


def from_bundle(path: str) -> Evidence:
    """Evidence from a bundle, verified as ``nono exec`` verifies it (for this host's target)."""
    from nonoc.launch.verify import load_verified, native_target

    payload = load_verified(path)
    target = native_target()
    section = payload.get(target) or {}
    launch = section.get("launch") or {}
    if target != "linux":
        raise UsageError(
            "a macOS bundle holds Seatbelt text, not a rule table: ask with --profile instead"
        )
    table = section.get("landlock")
    if not isinstance(table, dict):
        raise NonoError(f"{path}: the bundle has no Landlock table for linux")
    ports = [
        (str(row["id"]), int(row["port"]), "bind" if "BIND_TCP" in row["access"] else "connect")
        for row in table.get("net", [])
    ]
    return Evidence(
        target=target,
        origin={"bundle": path},
        provenance=dict((payload.get("provenance") or {}).get(target) or {}),
        table=table,
        network=str(launch.get("network", "open")),
        ports=ports,
        hosts=[(f"h{i}", str(p)) for i, p in enumerate(launch.get("proxy_hosts", []))],
    )


def from_profile(source: str, target: str, name: str | None = None) -> Evidence:
    """Evidence from a profile (a name or a .nono file) compiled through the front end."""
    from nonoc.backends import landlock
    from nonoc.backends.host import HostFacts
    from nonoc.bundle.payload import TargetBuild, build_payload
    from nonoc.resolve import resolve

    policy = resolve(source, target, profile=name).policy  # type: ignore[arg-type]
    host = HostFacts.for_target(policy.target)
    artifacts = {"landlock": landlock.lower(policy, host)[0]} if target == "linux" else {}
    payload = build_payload({target: TargetBuild(policy, artifacts, host.landlock_abi)})
    network = policy.network
    return Evidence(
        target=target,
        origin={"profile": source},
        provenance=payload["provenance"][target],
        table=artifacts.get("landlock"),
        policy=policy,
        network=network.mode.value,
        ports=[(f"p{i}", p.port, p.direction) for i, p in enumerate(network.ports)],
        hosts=[(f"h{i}", h.pattern) for i, h in enumerate(network.proxy_hosts)],
        mandatory=policy.mandatory_groups,
    )


# --------------------------------------------------------------------------- paths


def host_path(raw: str) -> str:
    """The absolute path ``raw`` names here: ``~`` and ``$VARIABLES`` as the launcher expands
    them (``nonoc.paths``), a relative path from the working directory."""
    if raw.startswith(("~", "$")):
        try:
            return paths.expand(paths.normalize(raw), paths.host_variables())
        except paths.TemplateError as exc:
            raise UsageError(f"bad path {raw!r}: {exc}") from None
        except paths.UnsetVariable as exc:
            raise UsageError(f"bad path {raw!r}: ${exc.name} is not set") from None
    return os.path.abspath(raw)


def needed_right(op: str, real: str) -> str:
    """The Landlock right an ``op`` on ``real`` needs (writing into a directory, or a file
    that does not exist yet, is creating a file: MAKE_REG)."""
    if op == "exec":
        return "EXECUTE"
    if op == "read":
        return "READ_DIR" if os.path.isdir(real) else "READ_FILE"
    if os.path.lexists(real) and not os.path.isdir(real):
        return "WRITE_FILE"
    return "MAKE_REG"


def explain_path(evidence: Evidence, raw: str, op: str) -> Answer:
    """Would ``op`` on path ``raw`` be allowed here, and by which rules."""
    if op not in OPS:
        raise UsageError(f"unknown operation {op!r}; expected read, write or exec")
    expanded = host_path(raw)
    real = os.path.realpath(expanded)
    question: dict[str, Any] = {"kind": "path", "path": raw, "resolved": real, "op": op}
    answer = Answer(question, evidence.target, evidence.origin, False, "")
    if real != expanded:
        answer.notes.append(f"{expanded} resolves to {real} (symbolic links followed)")
    if evidence.table is not None:
        _linux_path(evidence, answer, real, op)
    else:
        _policy_path(evidence, answer, real, op)
    return answer


def _linux_path(evidence: Evidence, answer: Answer, real: str, op: str) -> None:
    from nonoc.launch import plan as launch_plan
    from nonoc.launch.denies import within

    assert evidence.table is not None
    right = needed_right(op, real)
    answer.question["right"] = right
    plan = launch_plan.build(evidence.table, evidence.provenance)
    try:
        matching = [g for g in plan.grants if within(real, g.path) and (g.is_dir or g.path == real)]
        values = paths.host_variables()

        def specific(grant: Any) -> tuple[int, bool]:
            # The deepest grant first; between equals, one written as the path it reaches
            # (`/usr/bin`) before one that reaches it through a symlink (`/bin`).
            try:
                literal = paths.expand(grant.template, values) == grant.path
            except paths.UnsetVariable:
                literal = False
            return (-len(grant.path), not literal)

        with_right = sorted((g for g in matching if right in g.access), key=specific)
        for deny in plan.denies:
            place = next((p for p in deny.paths if within(real, p)), None)
            if place is None:
                continue
            shown = deny.template + (f" ({place})" if place != deny.template else "")
            answer.reason = f"{real} lies inside the deny of {shown}: a deny beats every grant"
            answer.rules.append(evidence.ref(deny.rule_id, "deny", f"deny of {deny.template}"))
            for dropped in plan.dropped:
                if dropped.deny is deny and within(real, dropped.grant.path):
                    answer.rules.append(_grant_ref(evidence, dropped.grant.rule_id, "overridden"))
            return
        if right not in plan.report.handled_fs:
            answer.allowed = True
            answer.reason = (
                f"this kernel's Landlock (ABI {plan.report.kernel_abi}) does not handle {right}: "
                "nothing restricts it"
            )
            return
        if with_right:
            answer.allowed = True
            best = with_right[0]
            answer.reason = f"{op} ({right}) of {real} is granted by {best.rule_id}"
            for grant in with_right:
                answer.rules.append(_grant_ref(evidence, grant.rule_id, "grant"))
            split = next((s for s in plan.splits if s.grant.rule_id == best.split_of), None)
            if split is not None:
                answer.reason += (
                    f", as one entry of its tree {split.grant.path}, which the launcher split "
                    "around " + ", ".join(d.template for d in split.denies)
                )
                answer.rules.extend(
                    evidence.ref(d.rule_id, "split", f"deny of {d.template}") for d in split.denies
                )
            return
        if matching:
            ids = ", ".join(dict.fromkeys(g.rule_id for g in matching))
            have = sorted({a for g in matching for a in g.access})
            answer.reason = f"{ids} cover {real}, but with {', '.join(have)}: not {right}"
            answer.rules.extend(_grant_ref(evidence, g.rule_id, "grant") for g in matching)
            return
        for split in plan.splits:
            if within(real, split.grant.path):
                answer.reason = (
                    f"{split.grant.rule_id} grants the tree {split.grant.path}, but the launcher "
                    "split it around " + ", ".join(d.template for d in split.denies) + f": {real} "
                    "lies on the way to a denied path (or did not exist at launch) and gets no right"
                )
                answer.rules.append(_grant_ref(evidence, split.grant.rule_id, "split"))
                answer.rules.extend(
                    evidence.ref(d.rule_id, "deny", f"deny of {d.template}") for d in split.denies
                )
                return
        answer.reason = (
            f"not granted: no rule covers {real}, and Landlock denies what is not granted"
        )
        for skip in plan.skipped:
            try:
                place = os.path.realpath(paths.expand(skip.template, values))
            except paths.UnsetVariable:
                place = skip.template
            if within(real, place):
                answer.rules.append(_grant_ref(evidence, skip.rule_id, "skipped"))
                answer.notes.append(f"{skip.rule_id} would cover it but is skipped: {skip.reason}")
        answer.notes.extend(plan.report.notes)
    finally:
        plan.close()


def _grant_ref(evidence: Evidence, rule_id: str, role: str) -> RuleRef:
    """A grant's reference, summarised from its row in the rule table."""
    rows = (evidence.table or {}).get("rules", [])
    row: dict[str, Any] = next((r for r in rows if r.get("id") == rule_id), {})
    access = set(row.get("access", ()))
    verbs = [
        verb
        for verb, present in (
            ("read", "READ_DIR" in access or ("READ_FILE" in access and "EXECUTE" not in access)),
            ("write", "WRITE_FILE" in access),
            ("exec", "EXECUTE" in access),
        )
        if present
    ]
    kind = "file" if row.get("kind") == "file" else "tree"
    summary = f"{'+'.join(verbs) or 'no right'} of {kind} {row.get('path', '?')}"
    return evidence.ref(rule_id, role, summary)


def _policy_path(evidence: Evidence, answer: Answer, real: str, op: str) -> None:
    """The macOS target (no rule table): the policy's own rules, by real path."""
    from nonoc.ir import Access, PathKind
    from nonoc.launch.denies import within

    policy = evidence.policy
    values = paths.host_variables()

    def place(template: str) -> str | None:
        try:
            return os.path.realpath(paths.expand(template, values))
        except paths.UnsetVariable:
            return None

    for index, deny in enumerate(policy.denies):
        where = place(deny.path)
        if where is not None and within(real, where):
            answer.reason = f"{real} lies inside the deny of {deny.path}: a deny beats every grant"
            answer.rules.append(evidence.ref(f"d{index}", "deny", f"deny of {deny.path}"))
            return
    access = {"read": Access.READ, "write": Access.WRITE, "exec": Access.EXECUTE}[op]
    for index, grant in enumerate(policy.grants):
        where = place(grant.path)
        if where is None or access not in grant.access:
            continue
        if within(real, where) and (grant.kind is PathKind.TREE or where == real):
            answer.allowed = True
            answer.reason = f"{op} of {real} is granted by g{index}"
            summary = f"{access.value} of {grant.kind.value} {grant.path}"
            answer.rules.append(evidence.ref(f"g{index}", "grant", summary))
    if not answer.allowed:
        answer.reason = (
            f"not granted: no rule allows {op} of {real}, and the profile denies by default"
        )


# --------------------------------------------------------------------------- network


def explain_network(evidence: Evidence, host: str | None, port: int | None) -> Answer:
    """Could the agent reach ``host`` (through the proxy) or TCP ``port`` (directly)?"""
    if host is None and port is None:
        raise UsageError("give --host, --port or both")
    question: dict[str, Any] = {"kind": "network", "host": host, "port": port}
    answer = Answer(question, evidence.target, evidence.origin, False, "")
    mode = evidence.network
    mode_ref = evidence.ref("network", "network", f"network {mode}")
    if mode_ref.provenance is None:
        mode_ref.summary += " (the default: no profile sets it)"
    answer.rules.append(mode_ref)
    connect = [(i, p) for i, p, d in evidence.ports if d == "connect" and p == port]
    if mode == "open":
        answer.allowed = True
        answer.reason = "the network is open: nothing restricts connections"
        return answer
    if mode == "blocked":
        answer.reason = "the network is blocked: only unix sockets can be created"
        for rule_id, number in connect:
            answer.rules.append(evidence.ref(rule_id, "port", f"port connect {number}"))
            answer.notes.append(
                f"{rule_id} (port connect {number}) has no effect: with the network blocked, "
                "no TCP socket can be created"
            )
        return answer
    reasons: list[str] = []
    if host is not None:
        allowed, reason, refs = _proxy(evidence, host)
        answer.allowed |= allowed
        reasons.append(reason)
        answer.rules.extend(refs)
    if port is not None:
        if connect:
            answer.allowed = True
            reasons.append(
                f"a direct TCP connection to port {port} (any address) is allowed by "
                + ", ".join(i for i, _ in connect)
            )
            answer.rules.extend(evidence.ref(i, "port", f"port connect {p}") for i, p in connect)
        else:
            reasons.append(
                f"no port rule lets a direct connection reach port {port}: only the local proxy is reachable"
            )
    answer.reason = "; ".join(reasons)
    return answer


def _proxy(evidence: Evidence, host: str) -> tuple[bool, str, list[RuleRef]]:
    """Whether the proxy would let ``host`` through, and which pattern does."""
    from nonoc.runtime.proxy.addresses import HostError, is_metadata_name, parse_host
    from nonoc.runtime.proxy.allowlist import HostAllowlist, PatternError

    try:
        parsed = parse_host(host)
    except HostError:
        return False, f"{host!r} is not a host name or address the proxy accepts", []
    if is_metadata_name(parsed.name):
        return (
            False,
            f"the proxy refuses {parsed.name}: cloud metadata, whatever the allowlist says",
            [],
        )
    for rule_id, pattern in evidence.hosts:
        try:
            if HostAllowlist.from_patterns([pattern]).match(parsed) is not None:
                ref = evidence.ref(rule_id, "proxy-host", f"allow {pattern!r} through the proxy")
                return True, f"the proxy lets {parsed.name} through: it matches {pattern!r}", [ref]
        except PatternError:
            continue
    count = len(evidence.hosts)
    return (
        False,
        f"{parsed.name} matches none of the proxy's {count} allowed host pattern{'s' * (count != 1)}",
        [],
    )
