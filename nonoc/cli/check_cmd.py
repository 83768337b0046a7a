"""``nonoc check [PATHS…]``: parse, resolve, lower and lint policies, for CI and editors."""

from __future__ import annotations

import argparse
import sys

HELP = "check .nono files: compiler errors, assertions and lint warnings (text, JSON, SARIF)"

EPILOG = """\
exit status: 0 no errors (warnings allowed), 1 errors (or warnings with --strict),
2 usage errors. Rule ids for --disable: see docs/ci.md.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare ``nonoc check``'s arguments."""
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help=".nono files or directories to search (default: the current directory)",
    )
    parser.add_argument(
        "--format",
        choices=("text", "json", "sarif"),
        default="text",
        help="output format (default: text)",
    )
    parser.add_argument(
        "--strict", action="store_true", help="treat warnings as errors (exit 1 on any warning)"
    )
    parser.add_argument(
        "--disable",
        action="append",
        default=[],
        metavar="RULE[,RULE]",
        help="do not report these warning rules (e.g. missing-path on CI hosts)",
    )
    parser.add_argument(
        "-o", "--output", default=None, metavar="FILE", help="write the report to FILE (atomically)"
    )


def run(args: argparse.Namespace) -> int:
    """Check, print the report, and return 0, 1 or 2 as documented in ``EPILOG``."""
    from dataclasses import replace

    from nonoc.errors import UsageError
    from nonoc.lint import RULES, check_files, output, policy_files

    disabled = {rule.strip() for item in args.disable for rule in item.split(",") if rule.strip()}
    for rule in sorted(disabled):
        if rule not in RULES:
            raise UsageError(f"unknown rule '{rule}'; known: {', '.join(sorted(RULES))}")
        if RULES[rule].severity == "error":
            raise UsageError(f"'{rule}' reports what the compiler refuses; it cannot be disabled")
    report = check_files(policy_files(args.paths), disabled=disabled)
    if args.strict:
        report = replace(report, findings=[f.strict() for f in report.findings])
    rendered = {"text": output.text, "json": output.to_json, "sarif": output.to_sarif}[args.format](
        report
    )
    if args.output:
        _write(args.output, rendered)
    else:
        sys.stdout.write(rendered)
    if args.format == "text" or args.output:
        print(output.summary(report), file=sys.stderr)
    return 1 if report.count("error") else 0


def _write(path: str, text: str) -> None:
    from nonoc.bundle.keys import write_atomic
    from nonoc.errors import NonoError

    try:
        write_atomic(path, text.encode("utf-8"), mode=0o644)
    except OSError as exc:
        raise NonoError(f"cannot write {path}: {exc.strerror}") from None
