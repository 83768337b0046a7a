"""``nonoc fmt [FILES…]``: print policy files in canonical form, check or rewrite them."""

from __future__ import annotations

import argparse
import os
import sys

HELP = "print .nono files in canonical form (--check for CI, --write to rewrite in place)"

EPILOG = """\
exit status: 0 done (with --check: every file is canonical), 1 a file is not canonical
(--check) or does not parse, 2 usage errors.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare ``nonoc fmt``'s arguments."""
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="FILE",
        help=".nono files or directories ('-' reads standard input); "
        "with --check or --write the default is the current directory",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 if a file is not canonical"
    )
    mode.add_argument("--write", action="store_true", help="rewrite files in place (atomically)")
    parser.add_argument(
        "--diff", action="store_true", help="with --check: print what would change as a diff"
    )


def run(args: argparse.Namespace) -> int:
    """Format; return the exit status described in ``EPILOG``."""
    from nonoc.errors import NonoError, UsageError
    from nonoc.format import format_text
    from nonoc.lint.discover import policy_files

    if args.diff and not args.check:
        raise UsageError("--diff goes with --check")
    if args.paths == ["-"]:
        if args.write:
            raise UsageError("--write needs files, not standard input")
        return _stdin(args)
    if "-" in args.paths:
        raise UsageError("'-' (standard input) cannot be mixed with files")
    if not args.paths and not (args.check or args.write):
        raise UsageError(
            "give the files to format (or --check / --write for the current directory)"
        )
    files = policy_files(args.paths)
    if not (args.check or args.write) and len(files) > 1:
        raise UsageError("printing works on one file; use --check or --write for several")
    status = 0
    for path in files:
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
            formatted = format_text(text, path)
        except NonoError as exc:
            print(exc.render(), file=sys.stderr)
            status = 1
            continue
        except (OSError, UnicodeDecodeError) as exc:
            print(f"{path}: error: cannot read: {exc}", file=sys.stderr)
            status = 1
            continue
        if not (args.check or args.write):
            sys.stdout.write(formatted)
        elif formatted == text:
            continue
        elif args.check:
            print(f"would reformat {path}", file=sys.stderr)
            if args.diff:
                sys.stdout.writelines(_diff(text, formatted, path))
            status = 1
        else:
            _replace(path, formatted)
            print(f"reformatted {path}", file=sys.stderr)
    return status


def _stdin(args: argparse.Namespace) -> int:
    from nonoc.format import format_text

    text = sys.stdin.read()
    formatted = format_text(text, "<stdin>")
    if args.check:
        if formatted != text:
            print("would reformat <stdin>", file=sys.stderr)
            if args.diff:
                sys.stdout.writelines(_diff(text, formatted, "<stdin>"))
            return 1
        return 0
    sys.stdout.write(formatted)
    return 0


def _diff(old: str, new: str, path: str) -> list[str]:
    import difflib

    return list(
        difflib.unified_diff(
            old.splitlines(keepends=True),
            new.splitlines(keepends=True),
            path,
            path + " (formatted)",
        )
    )


def _replace(path: str, text: str) -> None:
    """Write ``text`` over ``path`` through a temp file and a rename, keeping its mode.

    A symbolic link is followed: the file it points to is rewritten, the link stays.
    """
    import tempfile

    from nonoc.errors import NonoError

    target = os.path.realpath(path)
    directory = os.path.dirname(target)
    try:
        mode = os.stat(target).st_mode & 0o7777
        fd, temp = tempfile.mkstemp(prefix=".nonoc-fmt-", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise NonoError(f"cannot write {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)
        os.replace(temp, target)
    except BaseException as exc:
        try:
            os.unlink(temp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise NonoError(f"cannot write {path}: {exc.strerror}") from None
        raise
