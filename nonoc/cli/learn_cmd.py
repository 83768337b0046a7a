"""``nono learn [--profile BASE] [--output FILE] [--merge PROFILE_FILE] -- CMD [ARGS...]``.

Runs CMD under strace (unsandboxed), then prints a profile in the policy language that
allows what CMD did: the closest built-in profile extended with folded directory rules,
minus what the credential groups deny. Argument parsing and printing only; the work is in
``nonoc.learn``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

HELP = "run a command under tracing and print a profile that allows what it did"

EPILOG = """\
The command runs WITHOUT a sandbox while it is traced: learn from a run you trust.
What the policy denies (the credential groups are always applied) is left out of the
profile and reported. Needs strace on PATH.

examples:
  nono learn -- python3 tool.py                     # print a profile on stdout
  nono learn -o tool.nono -- make test              # write it to a file
  nono learn --merge tool.nono -- make release      # add what a new run needed
  nonoc compile tool.nono && nono exec tool.bundle -- make test
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``nono learn``'s options."""
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "--profile", metavar="BASE", help="extend this profile (default: the closest built-in one)"
    )
    parser.add_argument(
        "-o", "--output", metavar="FILE", help="write the profile to FILE instead of stdout"
    )
    parser.add_argument(
        "--merge",
        metavar="PROFILE_FILE",
        help="add what the command needed to this profile file, in place, keeping its comments",
    )
    parser.add_argument(
        "--name", help="the new profile's name (with --merge: which profile of the file to update)"
    )
    parser.add_argument("command", nargs=argparse.REMAINDER, metavar="-- CMD [ARGS...]")


def run(args: argparse.Namespace) -> int:
    """Trace the command, build the profile, write it."""
    from nonoc.errors import UsageError
    from nonoc.learn import learn_profile

    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise UsageError(
            "missing the command to learn from (nono learn [OPTIONS] -- CMD [ARGS...])"
        )
    display = args.output or (args.merge if args.merge else "<learned>")
    learned = learn_profile(
        command, base=args.profile, merge_file=args.merge, name=args.name, display=display
    )
    lesson = learned.lesson
    err = sys.stderr
    for entry in lesson.left_out:
        print(f"nono learn: left out {entry.describe()}", file=err)
    for warning in learned.warnings:
        print(f"nono learn: warning: {warning}", file=err)
    if lesson.exit_status not in (None, 0):
        print(
            f"nono learn: warning: the command exited with status {lesson.exit_status}; "
            "the profile covers what it did until then",
            file=err,
        )
    if learned.merged is not None:
        destination = Path(args.output) if args.output else learned.merged
        if learned.added == 0 and not lesson.left_out and destination == learned.merged:
            print(
                f"nono learn: {learned.merged} already allows everything the command did", file=err
            )
            return 0
        write_atomic(destination, learned.text, like=learned.merged)
        print(
            f"nono learn: added {learned.added} statement(s) to profile {learned.profile} in {destination}",
            file=err,
        )
        return 0
    if args.output:
        write_atomic(Path(args.output), learned.text)
        print(f"nono learn: wrote profile {learned.profile} to {args.output}", file=err)
    else:
        sys.stdout.write(learned.text)
        sys.stdout.flush()
    return 0


def write_atomic(path: Path, text: str, *, like: Path | None = None) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename.

    The new file takes the permissions of ``like`` (the file being replaced), else 0644.
    """
    directory = path.parent if str(path.parent) else Path(".")
    mode = 0o644
    source = like if like is not None and like.exists() else (path if path.exists() else None)
    if source is not None:
        mode = source.stat().st_mode & 0o7777
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise
