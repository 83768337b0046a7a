"""``nono wrap [FLAGS] -- CMD [ARGS...]``: like ``nono run``, but apply and exec in this process.

No parent is left behind: once the sandbox is applied, this process becomes CMD. There is
therefore nothing to forward signals, run a proxy, take snapshots or keep an audit trail;
use ``nono run`` for those. Same flags as ``nono run`` (``nonoc.runtime.flags.FLAGS``).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from nonoc.cli import run_cmd

HELP = "like nono run, but sandbox this process and exec the command (no parent left)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The same flags as ``nono run``."""
    run_cmd.add_arguments(parser)
    parser.epilog = (
        run_cmd.EPILOG.replace("nono run", "nono wrap")
        + "\nnono wrap leaves no parent process: no signal forwarding, proxy, rollback or audit.\n"
    )


def run(args: argparse.Namespace) -> int:
    """Entry point from the dispatcher."""
    from nonoc.runtime.run.start import start

    return run_cmd.reported(lambda: start(run_cmd.request_from(args), wrap=True))


def main(argv: Sequence[str]) -> int:
    """Fast entry point (no argparse): ``argv`` is the words after ``wrap``."""
    return run_cmd.main_wrap(argv)
