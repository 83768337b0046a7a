"""What the launcher tells the user: the ``--dry-run`` / ``-v`` account of a plan, and warnings.

Every line names the rule id and, where the bundle records it, the source position the
rule came from, so that a surprise can be traced back to the profile line that caused it.
Standard library only.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs the launcher milliseconds at run time
    from collections.abc import Mapping, Sequence
    from typing import Any

    from nonoc.launch.plan import Plan


def warnings(plan: Plan) -> list[str]:
    """Lines the launcher prints on stderr even without ``-v``: what the kernel will not enforce."""
    if plan.report.state == "fully enforced":
        return []
    lines = [f"Landlock is {plan.report.state}: {plan.report.summary()}"]
    lines.extend(plan.report.notes)
    return lines


def render(
    plan: Plan,
    payload: Mapping[str, Any],
    bundle_name: str,
    argv: Sequence[str],
    command: str | None,
    seccomp: Mapping[str, Any] | None,
) -> str:
    """The full account of ``plan``: what will be allowed, denied, split, dropped and skipped."""
    manifest = payload.get("manifest")
    if not isinstance(manifest, dict):
        manifest = {}
    report = plan.report
    lines = [f"bundle: {bundle_name} (profile {manifest.get('profile', '?')})"]
    lines.append(f"landlock: {report.summary()}")
    lines.append("  handled fs:  " + (" ".join(report.handled_fs) or "none"))
    lines.append(
        "  handled net: "
        + (" ".join(report.handled_net) or "none (TCP is not restricted by Landlock)")
    )
    lines.append("  scopes:      " + (" ".join(report.scopes) or "none"))
    for note in report.notes:
        lines.append(f"  note: {note}")

    lines.append("allow:")
    for grant in plan.grants:
        origin = f", split from {grant.split_of}" if grant.split_of else ""
        kind = "dir" if grant.is_dir else "file"
        lines.append(
            f"  {grant.path}  [{kind}{origin}]  {' '.join(grant.access)}"
            f"  <- {plan.describe(grant.rule_id)}"
        )
    if not plan.grants:
        lines.append("  (nothing)")
    if plan.ports:
        lines.append("tcp ports:")
        for port in plan.ports:
            lines.append(
                f"  {port.port}  {' '.join(port.access)}  <- {plan.describe(port.rule_id)}"
            )
    if plan.denies:
        lines.append("deny:")
        for deny in plan.denies:
            lines.append(f"  {' and '.join(deny.paths)}  <- {plan.describe(deny.rule_id)}")
    if plan.splits:
        lines.append(f"split (deny inside an allowed tree; strategy {plan.strategy}):")
        for split in plan.splits:
            denied = ", ".join(plan.describe(d.rule_id) for d in split.denies)
            lines.append(
                f"  {split.grant.path} <- {plan.describe(split.grant.rule_id)}: "
                f"{len(split.entries)} entries granted beside {denied}"
            )
            lines.append(
                "    no right on (nothing can be created in them, listing fails): "
                + ", ".join(split.closed_dirs)
            )
            if split.unlisted:
                lines.append(
                    "    could not be listed (their entries get no right): "
                    + ", ".join(split.unlisted)
                )
    if plan.dropped:
        lines.append("dropped (a deny covers the grant; the deny wins):")
        for item in plan.dropped:
            relation = "equals" if item.grant.path == item.deny_path else "lies inside"
            lines.append(
                f"  {item.grant.path} <- {plan.describe(item.grant.rule_id)} {relation} "
                f"denied {item.deny_path} <- {plan.describe(item.deny.rule_id)}"
            )
    if plan.masked:
        lines.append("rights this kernel does not know (dropped from the rules):")
        for rule_id, path, lost in plan.masked:
            lines.append(f"  {path} <- {rule_id}: {' '.join(lost)}")
    if plan.skipped:
        lines.append("skipped on this host:")
        for skip in plan.skipped:
            lines.append(f"  {skip.template} <- {plan.describe(skip.rule_id)}: {skip.reason}")
    if seccomp:
        lines.append(
            f"seccomp: {seccomp.get('count', '?')} instructions for {seccomp.get('arch', '?')}"
        )
    else:
        lines.append("seccomp: none")
    lines.append(
        "exec: " + (command or f"{argv[0]} (command not found)") + "  argv: " + " ".join(argv)
    )
    return "\n".join(lines) + "\n"
