"""The account of a run, for ``--dry-run`` (stdout) and ``-v`` (stderr): policy, flags, kernel.

Three parts: which profile and flags made the policy (each flag with the statements it
became); what nono itself does at launch (network mode, environment hygiene, blocked
commands, the command's verdict); and what the kernel gets, as ``nono exec --dry-run``
prints it (``nonoc.launch.report``): every Landlock rule with the rule id and source line
it came from, denies, splits, skipped paths, the seccomp program's size. ``--json`` gives
the same as one JSON object (sorted keys).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from nonoc.runtime import envhygiene
from nonoc.runtime.run.commands import blocked_name
from nonoc.runtime.run.prepare import Prepared

#: How ``nono run`` enforces ``unix_socket`` grants (``docs/supervisor.md``).
UNIX_SOCKETS_NOTE = (
    "nono run's supervisor refuses a connect to any other pathname socket, except one the "
    "command bound itself"
)


def command_verdict(argv: Sequence[str], resolved: str | None, launch: Mapping[str, Any]) -> str:
    """``runs``, ``blocked as NAME`` or ``not found``."""
    if not argv:
        return "none given"
    if resolved is None:
        return "not found"
    name = blocked_name(argv[0], resolved, launch)
    return f"blocked as {name}" if name else "runs"


def text(
    prepared: Prepared, payload: Mapping[str, Any], argv: Sequence[str], environ: Mapping[str, str]
) -> str:
    """The account as text."""
    from nonoc.launch.apply import find_command

    launch = _launch(payload)
    resolved = find_command(argv[0], environ) if argv else None
    lines = [
        f"profile: {prepared.profile}, from {prepared.choice.source} ({prepared.choice.origin})",
        "bundle: " + ("from the compile cache" if prepared.cached else "compiled now"),
        f"flags (an anonymous profile extending {prepared.profile}):",
    ]
    width = max(len(label) for label, _ in prepared.flags)
    lines.extend(f"  {label.ljust(width)}  {body}" for label, body in prepared.flags)
    lines.append(f"network: {launch.get('network', 'open')}{_proxy_note(launch)}")
    sockets = " ".join(launch.get("unix_sockets") or ()) or "none"
    lines.append(f"unix sockets granted: {sockets} ({UNIX_SOCKETS_NOTE})")
    lines.extend(_environment_lines(launch, environ))
    blocked = " ".join(launch.get("blocked_commands") or ()) or "none"
    lines.append(f"blocked commands (a check on the command's name; defense in depth): {blocked}")
    if launch.get("allowed_commands"):
        lines.append("allowed commands: " + " ".join(launch["allowed_commands"]))
    if argv:
        lines.append(f"command: {' '.join(argv)}: {command_verdict(argv, resolved, launch)}")
    lines.append("--- what the kernel gets ---")
    lines.append(_kernel_text(payload, argv, resolved, environ).rstrip("\n"))
    return "\n".join(lines) + "\n"


def as_json(
    prepared: Prepared, payload: Mapping[str, Any], argv: Sequence[str], environ: Mapping[str, str]
) -> str:
    """The account as one JSON document (sorted keys)."""
    from nonoc.launch.apply import find_command

    launch = _launch(payload)
    resolved = find_command(argv[0], environ) if argv else None
    document = {
        "profile": {
            "name": prepared.profile,
            "source": prepared.choice.source,
            "origin": prepared.choice.origin,
        },
        "cached": prepared.cached,
        "flags": [{"flag": label, "statements": body} for label, body in prepared.flags],
        "launch": {
            "network": launch.get("network", "open"),
            "unix_sockets": list(launch.get("unix_sockets") or ()),
            "blocked_commands": list(launch.get("blocked_commands") or ()),
            "allowed_commands": list(launch.get("allowed_commands") or ()),
            "environment": {
                "strip": list(launch.get("env_strip") or ()),
                "keep": list(launch.get("env_keep") or ()),
                "set": dict(launch.get("env_set") or {}),
                "removed_here": envhygiene.removed(launch, environ),
            },
        },
        "command": {
            "argv": list(argv),
            "path": resolved,
            "verdict": command_verdict(argv, resolved, launch),
        },
        "kernel": _kernel_json(payload, environ),
        "provenance": _provenance(payload),
        "warnings": list(prepared.warnings),
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def _provenance(payload: Mapping[str, Any]) -> dict[str, Any]:
    from nonoc.launch.apply import linux_provenance

    return dict(linux_provenance(payload).items())


def _launch(payload: Mapping[str, Any]) -> Mapping[str, Any]:
    linux = payload.get("linux")
    section = linux.get("launch") if isinstance(linux, dict) else None
    return section if isinstance(section, dict) else {}


def _environment_lines(launch: Mapping[str, Any], environ: Mapping[str, str]) -> list[str]:
    removed = envhygiene.removed(launch, environ)
    lines = ["environment: strips " + " ".join(launch.get("env_strip") or ())]
    lines.append("  removed from this environment: " + (" ".join(removed) or "nothing"))
    if launch.get("env_keep"):
        lines.append("  kept (env keep / --keep-env): " + " ".join(launch["env_keep"]))
    for name, value in sorted(dict(launch.get("env_set") or {}).items()):
        lines.append(f"  set: {name}={value}")
    return lines


def _plan(payload: Mapping[str, Any], environ: Mapping[str, str]) -> Any:
    from nonoc.launch import plan as planning
    from nonoc.launch.apply import linux_provenance

    return planning.build(payload["linux"]["landlock"], linux_provenance(payload), environ=environ)


def _kernel_text(
    payload: Mapping[str, Any],
    argv: Sequence[str],
    resolved: str | None,
    environ: Mapping[str, str],
) -> str:
    from nonoc.launch import report

    plan = _plan(payload, environ)
    try:
        rendered = report.render(
            plan,
            payload,
            "nono run",
            list(argv) or ["-"],
            resolved,
            payload["linux"].get("seccomp"),
        )
    finally:
        plan.close()
    if not argv:
        # The launcher's account ends with the exec line; there is no command to show.
        rendered = "\n".join(rendered.rstrip("\n").split("\n")[:-1]) + "\n"
    return rendered


def _kernel_json(payload: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    plan = _plan(payload, environ)
    try:
        report = plan.report
        seccomp = payload["linux"].get("seccomp")
        return {
            "landlock": {
                "state": report.state,
                "summary": report.summary(),
                "handled_fs": list(report.handled_fs),
                "handled_net": list(report.handled_net),
                "scopes": list(report.scopes),
                "notes": list(report.notes),
                "allow": [
                    {
                        "rule": g.rule_id,
                        "path": g.path,
                        "template": g.template,
                        "kind": "dir" if g.is_dir else "file",
                        "access": list(g.access),
                        "split_of": g.split_of,
                        "source": plan.describe(g.rule_id),
                    }
                    for g in plan.grants
                ],
                "deny": [
                    {"rule": d.rule_id, "paths": list(d.paths), "source": plan.describe(d.rule_id)}
                    for d in plan.denies
                ],
                "ports": [
                    {
                        "rule": p.rule_id,
                        "port": p.port,
                        "access": list(p.access),
                        "source": plan.describe(p.rule_id),
                    }
                    for p in plan.ports
                ],
                "skipped": [
                    {"rule": s.rule_id, "template": s.template, "reason": s.reason}
                    for s in plan.skipped
                ],
                "dropped": [
                    {
                        "rule": d.grant.rule_id,
                        "path": d.grant.path,
                        "denied_by": d.deny.rule_id,
                        "deny_path": d.deny_path,
                    }
                    for d in plan.dropped
                ],
                "splits": [
                    {"rule": s.grant.rule_id, "path": s.grant.path, "entries": len(s.entries)}
                    for s in plan.splits
                ],
            },
            "seccomp": {"arch": seccomp.get("arch"), "instructions": seccomp.get("count")}
            if seccomp
            else None,
        }
    finally:
        plan.close()


def _proxy_note(launch: Mapping[str, Any]) -> str:
    """In proxy mode: the allowlist and the policy's credential routes, in parentheses."""
    if launch.get("network") != "proxy":
        return ""
    hosts = ", ".join(launch.get("proxy_hosts") or ()) or "none"
    routes = ", ".join(str(r.get("name")) for r in launch.get("credential_routes") or ())
    return f" (allowed hosts: {hosts}" + (f"; credential routes: {routes}" if routes else "") + ")"
