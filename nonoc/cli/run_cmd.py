"""``nono run [FLAGS] -- CMD [ARGS...]``: compile flags and profile (cached), sandbox CMD in a child.

Argument parsing only; the work is in ``nonoc.runtime.run``. The options come from the
one table in ``nonoc.runtime.flags`` (``FLAGS``), shared with ``nono wrap`` and the shell
completions; policy flags are kept in command-line order.
"""

from __future__ import annotations

import sys

from nonoc.runtime.flags import BY_OPTION, FLAGS, RunRequest, record

TYPE_CHECKING = False
if TYPE_CHECKING:  # argparse, collections.abc: milliseconds a cached `nono run` need not pay
    import argparse
    from collections.abc import Callable, Sequence

HELP = "compile flags and a profile (cached), run a command sandboxed, keep a parent for it"

EPILOG = """\
examples:
  nono run --allow . -- CMD                      read and write the working directory
  nono run --read ./src --write ./output -- CMD
  nono run --allow . --net-block -- CMD          no network
  nono run --allow . --dry-run -- CMD            show the policy and kernel rules; run nothing
  nono run --profile claude-code -- claude

exit status: CMD's own (128+N when killed by signal N); 126 when the sandbox cannot be
applied or CMD is a blocked command; 127 when CMD is not found; 1 for nono's own errors;
2 for usage errors. Command blocking is defense in depth (a check on the command's name);
the kernel rules are the boundary.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``FLAGS``, then ``CMD [ARGS...]``."""
    import argparse

    class Record(argparse.Action):
        """Store an option into the namespace's ``RunRequest``, in command-line order."""

        def __call__(
            self,
            parser: argparse.ArgumentParser,
            namespace: argparse.Namespace,
            values: object,
            option_string: str | None = None,
        ) -> None:
            request = getattr(namespace, "request", None)
            if request is None:
                request = RunRequest()
                namespace.request = request
            flag = BY_OPTION[option_string or self.option_strings[0]]
            if isinstance(values, list):  # a two-word value (``REF VAR``)
                values = " ".join(map(str, values))
            record(request, flag, "" if values is None or values == "" else str(values))

    parser.allow_abbrev = False  # the hand parser of the fast path takes whole options only
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    for flag in FLAGS:
        names = [flag.option] + (["--verbose"] if flag.option == "-v" else [])
        if flag.metavar is None:
            parser.add_argument(
                *names, action=Record, nargs=0, help=flag.help, dest="_" + flag.dest
            )
        elif " " in flag.metavar:
            words = tuple(flag.metavar.split())
            parser.add_argument(
                *names,
                action=Record,
                nargs=len(words),
                metavar=words,
                help=flag.help,
                dest="_" + flag.dest,
            )
        else:
            parser.add_argument(
                *names, action=Record, metavar=flag.metavar, help=flag.help, dest="_" + flag.dest
            )
    parser.add_argument(
        "command", nargs=argparse.REMAINDER, metavar="-- CMD [ARGS...]", help="the command to run"
    )


def request_from(args: argparse.Namespace) -> RunRequest:
    """The ``RunRequest`` argparse filled, with the command (a leading ``--`` removed)."""
    request: RunRequest = getattr(args, "request", None) or RunRequest()
    command = list(args.command or [])
    if command and command[0] == "--":
        command = command[1:]
    request.command = command
    return request


def run(args: argparse.Namespace) -> int:
    """Entry point from the dispatcher."""
    from nonoc.runtime.run.start import start

    return reported(lambda: start(request_from(args)))


def reported(body: Callable[[], int]) -> int:
    """Run ``body``; print a ``NonoError`` as ``nono: <diagnostic>`` (as ``nono exec`` does).

    ``nonoc.errors`` is not imported to check: a ``NonoError`` can only exist if its module
    was loaded, and a cached run does not load it (docs/performance.md).
    """
    try:
        return body()
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 1
    except Exception as exc:
        errors = sys.modules.get("nonoc.errors")
        if errors is not None and isinstance(exc, errors.NonoError):
            sys.stderr.write(f"nono: {exc.render()}\n")
            return int(exc.exit_code)
        raise


def main(argv: Sequence[str]) -> int:
    """Fast entry point (no argparse): ``argv`` is the words after ``run``."""
    return _fast(argv, "run")


def main_wrap(argv: Sequence[str]) -> int:
    """Fast entry point of ``nono wrap``: ``argv`` is the words after ``wrap``."""
    return _fast(argv, "wrap")


def print_help(name: str) -> None:
    """``nono run --help`` / ``nono wrap --help`` on the fast path."""
    import argparse

    from nonoc.cli import wrap_cmd

    module = wrap_cmd if name == "wrap" else sys.modules[__name__]
    parser = argparse.ArgumentParser(prog=f"nono {name}", description=module.HELP)
    module.add_arguments(parser)
    parser.print_help()


def _fast(argv: Sequence[str], name: str) -> int:
    from nonoc.runtime.flags import parse

    def body() -> int:
        request = parse(argv, prog=f"nono {name}")
        if request is None:
            print_help(name)
            return 0
        from nonoc.runtime.run.start import start

        return start(request, wrap=name == "wrap")

    return reported(body)
