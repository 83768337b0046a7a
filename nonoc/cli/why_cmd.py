"""``nono why``: ALLOWED or DENIED for a path or a destination, with the rules that decide it."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nonoc.why import Answer, RuleRef

HELP = "explain whether a profile or bundle allows a path or a network destination, and why"

EPILOG = """\
examples:
  nono why --path ~/.ssh/id_rsa              # the profile nono run would use
  nono why --profile claude-code --path ~/.ssh/id_rsa
  nono why --bundle app.bundle --path ./src/main.py --op write
  nono why --profile agent.nono --host api.anthropic.com --port 443

exit status: 0 with an answer (ALLOWED or DENIED), 1 errors, 2 usage errors.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare ``nono why``'s arguments."""
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--profile",
        metavar="NAME|FILE",
        help="a profile name or a .nono file (default: the profile nono run would start from)",
    )
    source.add_argument("--bundle", metavar="BUNDLE", help="a compiled bundle (verified first)")
    parser.add_argument(
        "--name", metavar="PROFILE", help="with a --profile FILE holding several: which one"
    )
    parser.add_argument(
        "--target",
        choices=("linux", "macos"),
        default=None,
        help="with --profile: the target to judge for (default: this machine's)",
    )
    parser.add_argument("--path", metavar="P", help="a path (~ and $VARIABLES are expanded)")
    parser.add_argument(
        "--op", choices=("read", "write", "exec"), default="read", help="what to do with --path"
    )
    parser.add_argument("--host", metavar="H", help="a destination host (through the proxy)")
    parser.add_argument("--port", metavar="N", type=int, help="a TCP port (direct connection)")
    parser.add_argument("--json", action="store_true", help="print the answer as JSON")


def run(args: argparse.Namespace) -> int:
    """Answer the question and print it."""
    from nonoc.errors import UsageError
    from nonoc.launch.verify import native_target
    from nonoc.why import explain_network, explain_path, from_bundle, from_profile

    network = args.host is not None or args.port is not None
    if (args.path is None) == (not network):
        raise UsageError("ask about either --path, or --host/--port")
    if args.port is not None and not 0 <= args.port <= 65535:
        raise UsageError(f"port {args.port} is out of range (0 to 65535)")
    if args.bundle and (args.target or args.name):
        raise UsageError("--target and --name go with --profile, not --bundle")
    chosen = None
    if args.bundle:
        evidence = from_bundle(args.bundle)
    else:
        profile = args.profile
        if profile is None:
            profile, chosen = _run_profile()
        evidence = from_profile(profile, args.target or native_target(), args.name)
    answer = (
        explain_network(evidence, args.host, args.port)
        if network
        else explain_path(evidence, args.path, args.op)
    )
    if chosen:
        answer.notes.insert(0, f"profile {answer.origin['profile']}: {chosen}, as nono run would")
    if args.json:
        import json

        sys.stdout.write(json.dumps(to_json(answer), indent=2, sort_keys=True) + "\n")
    else:
        sys.stdout.write(render(answer))
    return 0


def _run_profile() -> tuple[str, str]:
    """The profile ``nono run`` starts from without ``--profile``, and why it is that one."""
    from nonoc.runtime.config import load_settings
    from nonoc.runtime.run.prepare import choose_profile

    choice = choose_profile(None, load_settings())
    return choice.source, choice.origin


def to_json(answer: Answer) -> dict[str, Any]:
    """The answer as plain JSON data (the ``--json`` shape, documented in docs/cli.md, "nono why")."""
    return {
        "decision": answer.decision,
        "allowed": answer.allowed,
        "question": answer.question,
        "target": answer.target,
        "source": answer.origin,
        "reason": answer.reason,
        "rules": [
            {
                "id": rule.id,
                "role": rule.role,
                "summary": rule.summary,
                "provenance": rule.provenance,
            }
            for rule in answer.rules
        ],
        "notes": answer.notes,
    }


def render(answer: Answer) -> str:
    """The answer for people: decision, reason, then each rule with where it was written."""
    question = answer.question
    if question["kind"] == "path":
        asked = f"{question['op']} {question['resolved']}"
    else:
        asked = " ".join(
            part
            for part in (
                f"host {question['host']}" if question["host"] else "",
                f"port {question['port']}" if question["port"] is not None else "",
            )
            if part
        )
    lines = [f"{answer.decision}: {asked} ({answer.target})", f"  because {answer.reason}"]
    for rule in answer.rules:
        lines.extend(_rule_lines(rule))
    lines.extend(f"  note: {note}" for note in answer.notes)
    return "\n".join(lines) + "\n"


def _rule_lines(rule: RuleRef) -> list[str]:
    label = rule.role if rule.role == rule.id else f"{rule.role} {rule.id}"
    head = f"  {label}: {rule.summary}"
    prov = rule.provenance
    if not prov:
        return [head]
    lines = [head, f"    at {prov.get('file')}:{prov.get('line')}:{prov.get('column')}"]
    chain = prov.get("chain") or []
    if chain:
        steps = []
        for link in chain:
            where = (
                f"{link.get('file')}:{link.get('line')}" if link.get("line") else link.get("file")
            )
            mark = ", mandatory" if link.get("mandatory") else ""
            steps.append(f"{link.get('kind')} {link.get('name')} ({where}{mark})")
        lines.append("    via " + " > ".join(steps))
    return lines
