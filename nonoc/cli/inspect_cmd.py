"""``nonoc inspect``: show what a bundle holds, without running or verifying it."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from typing import Any

HELP = "show a bundle's manifest and artifacts (seccomp listing, Landlock table, SBPL)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare ``nonoc inspect``'s arguments."""
    parser.add_argument("bundle", metavar="BUNDLE", help="a bundle file written by nonoc compile")
    parser.add_argument("--seccomp", action="store_true", help="print the seccomp filter's listing")
    parser.add_argument("--landlock", action="store_true", help="print the Landlock rule table")
    parser.add_argument("--sbpl", action="store_true", help="print the macOS Seatbelt profile")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")


def run(args: argparse.Namespace) -> int:
    """Read the envelope, decode the payload, print the summary and the sections asked for."""
    from nonoc.errors import NonoError
    from nonoc.launch.verify import parse_envelope, trusted_keys

    try:
        with open(args.bundle, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise NonoError(f"cannot read {args.bundle}: {exc.strerror}") from None
    raw_payload, signatures = parse_envelope(args.bundle, data)
    try:
        payload = json.loads(raw_payload)
    except ValueError as exc:
        raise NonoError(f"{args.bundle}: the payload is not JSON ({exc})") from None
    if not isinstance(payload, dict):
        raise NonoError(f"{args.bundle}: the payload is not a JSON object")
    try:
        trusted = set(trusted_keys())
    except OSError:
        trusted = set()
    keyids = [str(s.get("keyid", "")) for s in signatures]
    report: dict[str, Any] = {
        "bundle": args.bundle,
        "signed": bool(signatures),
        "signatures": [{"keyid": k, "trusted_here": k in trusted} for k in keyids],
        "format": payload.get("format"),
        "manifest": payload.get("manifest", {}),
        "targets": {
            t: _target_summary(payload[t])
            for t in ("linux", "macos")
            if isinstance(payload.get(t), dict)
        },
    }
    sections = _sections(args, payload)
    if args.json:
        report.update(sections)
        print(json.dumps(report, indent=2, sort_keys=True))
        return 0
    print(_render_summary(report))
    for name, body in sections.items():
        print()
        print(_render_section(name, body))
    return 0


def _artifact(payload: Mapping[str, Any], target: str, name: str, flag: str) -> Mapping[str, Any]:
    from nonoc.errors import NonoError

    section = payload.get(target)
    artifact = section.get(name) if isinstance(section, dict) else None
    if not isinstance(artifact, dict):
        present = [t for t in ("linux", "macos") if isinstance(payload.get(t), dict)]
        raise NonoError(
            f"{flag}: the bundle has no {name} artifact (targets: {', '.join(present) or 'none'})"
        )
    return artifact


def _sections(args: argparse.Namespace, payload: Mapping[str, Any]) -> dict[str, Any]:
    sections: dict[str, Any] = {}
    if args.seccomp:
        from nonoc.backends.seccomp import bpf, disasm

        artifact = _artifact(payload, "linux", "seccomp", "--seccomp")
        import base64

        program = bpf.decode(base64.b64decode(str(artifact.get("program", ""))))
        listing = disasm.disassemble(program, str(artifact.get("arch")))
        summary = {k: v for k, v in artifact.items() if k not in ("program", "provenance")}
        sections["seccomp"] = {**summary, "listing": listing.splitlines()}
    if args.landlock:
        sections["landlock"] = dict(_artifact(payload, "linux", "landlock", "--landlock"))
    if args.sbpl:
        sections["sbpl"] = str(_artifact(payload, "macos", "seatbelt", "--sbpl").get("sbpl", ""))
    return sections


def _target_summary(section: Mapping[str, Any]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    landlock = section.get("landlock")
    if isinstance(landlock, dict):
        summary["landlock"] = {
            "abi": landlock.get("abi"),
            "rules": len(landlock.get("rules", [])),
            "denies": len(landlock.get("denies", [])),
            "ports": len(landlock.get("net", [])),
            "scopes": landlock.get("scopes", []),
        }
    seccomp = section.get("seccomp")
    if isinstance(seccomp, dict):
        summary["seccomp"] = {
            key: seccomp.get(key)
            for key in ("arch", "count", "default", "network", "needs_listener", "sha256", "x32")
            if key in seccomp
        }
        summary["seccomp"]["rules"] = len(seccomp.get("rules", []))
    seatbelt = section.get("seatbelt")
    if isinstance(seatbelt, dict):
        summary["seatbelt"] = {"sbpl_lines": len(str(seatbelt.get("sbpl", "")).splitlines())}
    launch = section.get("launch")
    if isinstance(launch, dict):
        summary["network"] = launch.get("network")
    return summary


def _render_summary(report: Mapping[str, Any]) -> str:
    manifest = report["manifest"] if isinstance(report["manifest"], dict) else {}
    lines = [f"bundle:   {report['bundle']} ({report['format']})"]
    if report["signed"]:
        for sig in report["signatures"]:
            trust = "trusted on this machine" if sig["trusted_here"] else "not a trusted key here"
            lines.append(f"signed:   key {sig['keyid'][:16]} ({trust}; not verified by inspect)")
    else:
        lines.append("signed:   no (nono exec refuses unsigned bundles)")
    lines.append(f"profile:  {manifest.get('profile', '?')}")
    lines.append(f"compiler: {manifest.get('compiler', '?')}")
    lines.append(
        f"targets:  {', '.join(manifest.get('targets', []))}   arch: {manifest.get('arch', '?')}"
    )
    assumptions = manifest.get("assumptions", {})
    if assumptions:
        text = ", ".join(f"{k}={v}" for k, v in sorted(assumptions.items()))
        lines.append(f"assumes:  {text}")
    if manifest.get("variables"):
        lines.append(f"resolves: {', '.join('$' + v for v in manifest['variables'])}")
    lines.append("sources:")
    for name, digest in sorted(manifest.get("sources", {}).items()):
        lines.append(f"  {name}  sha256:{str(digest)[:16]}")
    for target, summary in report["targets"].items():
        lines.append(f"{target}:")
        if "network" in summary:
            lines.append(f"  network:  {summary['network']}")
        if "landlock" in summary:
            ll = summary["landlock"]
            lines.append(
                f"  landlock: ABI {ll['abi']}, {ll['rules']} grants, {ll['denies']} denies, "
                f"{ll['ports']} ports, scopes {' '.join(ll['scopes']) or 'none'}"
            )
        if "seccomp" in summary:
            sc = summary["seccomp"]
            extra = f", x32 {sc['x32']}" if "x32" in sc else ""
            lines.append(
                f"  seccomp:  {sc.get('arch')}, {sc.get('count')} instructions, {sc['rules']} rules, "
                f"default {sc.get('default')}{extra}"
                + (", needs a notification listener" if sc.get("needs_listener") else "")
            )
        if "seatbelt" in summary:
            lines.append(f"  seatbelt: {summary['seatbelt']['sbpl_lines']} lines of SBPL")
    return "\n".join(lines)


def _render_section(name: str, body: Any) -> str:
    if name == "seccomp":
        lines = ["seccomp rules:"]
        for rule in body.get("rules", []):
            cond = f" if {' and '.join(rule['conditions'])}" if rule.get("conditions") else ""
            source = f"  <- {rule['source']}" if rule.get("source") else ""
            lines.append(
                f"  {rule['id']:<5} {', '.join(rule['syscalls']) or '(none on this arch)'} "
                f"{rule['action']}{cond}{source}"
            )
        lines.append("")
        lines.extend(body["listing"])
        return "\n".join(lines)
    if name == "landlock":
        lines = [f"landlock rule table (ABI {body.get('abi')}, compat {body.get('compat')}):"]
        lines.append("  handled fs:  " + " ".join(body.get("handled_fs", [])))
        lines.append("  handled net: " + (" ".join(body.get("handled_net", [])) or "none"))
        for rule in body.get("rules", []):
            optional = " (optional)" if rule.get("optional") else ""
            lines.append(
                f"  allow {rule.get('id')} {rule.get('path')} [{rule.get('kind')}] "
                f"{' '.join(rule.get('access', []))}{optional}"
            )
        for deny in body.get("denies", []):
            lines.append(f"  deny  {deny.get('id')} {deny.get('path')} [{deny.get('kind')}]")
        for port in body.get("net", []):
            lines.append(
                f"  port  {port.get('id')} {port.get('port')} {' '.join(port.get('access', []))}"
            )
        return "\n".join(lines)
    return str(body).rstrip("\n")
