"""Subcommand dispatch shared by ``nonoc`` and ``nono``.

Each subcommand lives in its own module exposing::

    HELP: str                                   # one line for the command list
    def add_arguments(parser: argparse.ArgumentParser) -> None: ...
    def run(args: argparse.Namespace) -> int: ...  # returns the exit code

Modules are imported only when their command runs (or for ``--help``), and keep heavy
imports inside ``run`` so that the command list stays cheap. Every ``NonoError`` is printed
as its diagnostic and turned into its exit code: no traceback reaches the user.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence

from nonoc.errors import NonoError


def guarded(body: Callable[[], int]) -> int:
    """Run ``body``; print any ``NonoError`` as a diagnostic and return its exit code."""
    try:
        return body()
    except NonoError as exc:
        print(exc.render(), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 1


def dispatch(prog: str, description: str, commands: dict[str, str], argv: Sequence[str]) -> int:
    """Parse ``argv`` against the command table (name -> module) and run the chosen command."""
    import argparse

    from nonoc import __version__

    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--version", action="version", version=f"{prog} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    wanted = argv[0] if argv and not argv[0].startswith("-") else None
    for name, module_name in commands.items():
        if wanted is not None and name != wanted:
            # Only the chosen command's module is imported; the rest are listed by name.
            sub.add_parser(name, add_help=False)
            continue
        module = importlib.import_module(module_name)
        command_parser = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(command_parser)
        command_parser.set_defaults(_run=module.run)
    args = parser.parse_args(list(argv))
    if getattr(args, "_run", None) is None:
        parser.print_help(sys.stderr)
        return 2
    return guarded(lambda: int(args._run(args)))
