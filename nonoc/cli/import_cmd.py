"""``nonoc import``: convert a nono JSON profile or policy file into the policy language."""

from __future__ import annotations

import argparse
import sys

HELP = "convert a nono JSON profile or policy file into a .nono file"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``nonoc import FILE.json [--profile NAME] [-o OUT] [--no-check]``."""
    parser.add_argument(
        "file", metavar="FILE.json", help="a nono JSON profile, policy or network policy file"
    )
    parser.add_argument(
        "--profile",
        default=None,
        metavar="NAME",
        help="name of the imported profile (single profile), or the one profile to import "
        "with the parents it extends (policy file)",
    )
    parser.add_argument(
        "-o",
        "--output",
        default=None,
        metavar="OUT",
        help="write the .nono file here (default: stdout)",
    )
    parser.add_argument(
        "--no-check",
        action="store_true",
        help="do not resolve the result with the front end before writing it",
    )


def run(args: argparse.Namespace) -> int:
    """Translate, print the warnings (each naming its JSON path), write the policy text.

    The result is resolved for Linux and macOS before it is written, so a file that the
    compiler would refuse is reported here, not at the next compile.
    """
    from nonoc.importer import import_file

    imported = import_file(args.file, profile=args.profile)
    for warning in imported.warnings:
        print(warning.render(), file=sys.stderr)
    if not args.no_check:
        _check(imported.text, args.output or "<imported>.nono")
    if args.output is None or args.output == "-":
        sys.stdout.write(imported.text)
        return 0
    from nonoc.bundle.keys import write_atomic
    from nonoc.errors import NonoError

    try:
        write_atomic(args.output, imported.text.encode("utf-8"), mode=0o644)
    except OSError as exc:
        raise NonoError(f"cannot write {args.output}: {exc.strerror}") from None
    count = len(imported.warnings)
    print(f"wrote {args.output}: {count} warning{'s' if count != 1 else ''}", file=sys.stderr)
    return 0


def _check(text: str, filename: str) -> None:
    """Resolve every profile of ``text`` (and every group, through a probe) for both targets."""
    from nonoc.importer.check import check_text

    check_text(text, filename)
