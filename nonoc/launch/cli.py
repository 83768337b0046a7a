"""``nono exec [--dry-run] [-v] BUNDLE [--] CMD [ARGS…]``: verify, sandbox, exec.

Parsed by hand: argparse alone costs the launcher more than a millisecond, and this command
line has four shapes. ``HELP``/``add_arguments``/``run`` let ``nono --help`` list the
command like any other; ``nono exec`` itself goes straight to ``main``.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing and argparse cost the launcher milliseconds at run time
    import argparse
    from collections.abc import Sequence

HELP = "verify a compiled bundle, sandbox this process with it and exec a command"

USAGE = """\
usage: nono exec [--dry-run] [-v] BUNDLE [--] CMD [ARGS...]

Verify BUNDLE's signature, apply its Landlock rules (and seccomp filter) to this process,
then exec CMD. Exit status: CMD's own; 126 when the sandbox cannot be applied; 127 when
CMD is not found; 1 for nono's own errors; 2 for usage errors.

options:
  --dry-run      print what would be applied (paths resolved on this host), run nothing
  -v, --verbose  print the same account on stderr, then run CMD
  -h, --help     show this help
"""


class _Args:
    __slots__ = ("bundle", "command", "dry_run", "verbose")

    def __init__(self) -> None:
        self.bundle = ""
        self.command: list[str] = []
        self.dry_run = False
        self.verbose = False


def parse(argv: Sequence[str]) -> _Args | int:
    """Parse ``nono exec``'s arguments; an ``int`` is the exit code to return at once."""
    args = _Args()
    rest = list(argv)
    while rest and rest[0].startswith("-") and rest[0] != "-":
        option = rest.pop(0)
        if option == "--dry-run":
            args.dry_run = True
        elif option in ("-v", "--verbose"):
            args.verbose = True
        elif option in ("-h", "--help"):
            sys.stdout.write(USAGE)
            return 0
        elif option == "--":
            break
        else:
            return _usage(f"unknown option {option}")
    if not rest:
        return _usage("missing BUNDLE")
    args.bundle = rest.pop(0)
    if rest and rest[0] == "--":
        rest.pop(0)
    if not rest:
        return _usage("missing the command to run (nono exec BUNDLE -- CMD [ARGS...])")
    args.command = rest
    return args


def _usage(message: str) -> int:
    sys.stderr.write(USAGE.split("\n\n", 1)[0] + f"\nnono exec: error: {message}\n")
    return 2


def main(argv: Sequence[str]) -> int:
    """Run ``nono exec`` with ``argv`` (the words after ``exec``); return the exit code.

    On success this never returns: the process becomes the command.
    """
    parsed = parse(argv)
    if isinstance(parsed, int):
        return parsed
    try:
        from nonoc.launch.apply import apply_payload
        from nonoc.launch.verify import load_verified

        # Provenance is decoded only if an error message or the plan's account reads it.
        payload = load_verified(parsed.bundle, defer_provenance=True)
        if sys.platform == "darwin":
            return _macos(payload, parsed)
        return apply_payload(
            payload,
            parsed.command,
            dry_run=parsed.dry_run,
            verbose=parsed.verbose,
            bundle_name=parsed.bundle,
        )
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        # Anything the host's filesystem refused while the sandbox was being prepared.
        where = f" ({exc.filename})" if exc.filename else ""
        sys.stderr.write(f"nono: error: cannot apply the sandbox{where}: {exc.strerror or exc}\n")
        return 126
    except Exception as exc:
        # Checked by module rather than imported: importing nonoc.errors costs milliseconds
        # on every start, and a NonoError can only exist if its module was loaded.
        errors = sys.modules.get("nonoc.errors")
        if errors is not None and isinstance(exc, errors.NonoError):
            sys.stderr.write(f"nono: {exc.render()}\n")
            return int(exc.exit_code)
        raise


def _macos(payload: dict[str, object], parsed: _Args) -> int:
    """Hand a verified bundle's Seatbelt section to the macOS launcher (``nonoc.launch.macos``)."""
    from nonoc.launch import macos

    section = payload.get("macos")
    seatbelt = section.get("seatbelt") if isinstance(section, dict) else None
    if not isinstance(seatbelt, dict):
        from nonoc.launch.failure import nono_error

        raise nono_error(f"{parsed.bundle}: the bundle has no macOS Seatbelt profile")
    if parsed.dry_run:
        sys.stdout.write(macos.describe(seatbelt) + "\n")
        return 0
    # The launch section's environment (hygiene strip list, env keep, env set), as on Linux
    # and as `nono run` does on macOS.
    launch = section.get("launch") if isinstance(section, dict) else None
    environ = None
    if isinstance(launch, dict):
        import os

        from nonoc.launch.apply import child_environment

        environ = child_environment(launch, os.environ)
    return macos.exec_command(seatbelt, parsed.command, environ=environ)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Describe the arguments for ``nono --help`` (``nono exec`` itself parses by hand)."""
    parser.add_argument(
        "--dry-run", action="store_true", help="print what would be applied, run nothing"
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="print the plan on stderr, then run"
    )
    parser.add_argument("bundle", metavar="BUNDLE")
    parser.add_argument("command", metavar="CMD", nargs="+")


def run(args: argparse.Namespace) -> int:
    """Entry point when reached through the generic dispatcher."""
    argv = (["--dry-run"] if args.dry_run else []) + (["-v"] if args.verbose else [])
    return main([*argv, args.bundle, "--", *args.command])
