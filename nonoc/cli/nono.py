"""``nono``: the launcher and the runtime's command line.

``nono exec`` is the hot path: it is dispatched before argparse or anything else is
imported, straight into ``nonoc.launch`` (standard library, ctypes and signature
checking only).
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # collections.abc costs `nono exec` over a millisecond at import time
    from collections.abc import Sequence

COMMANDS: dict[str, str] = {
    "run": "nonoc.cli.run_cmd",
    "wrap": "nonoc.cli.wrap_cmd",
    "why": "nonoc.cli.why_cmd",
    "learn": "nonoc.cli.learn_cmd",
    "rollback": "nonoc.cli.rollback_cmd",
    "audit": "nonoc.cli.audit_cmd",
    "trust": "nonoc.cli.trust_cmd",
    "config": "nonoc.cli.config_cmd",
    "completion": "nonoc.cli.completion_cmd",
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``nono`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "exec":
        from nonoc.launch.cli import main as exec_main

        return exec_main(argv[1:])
    if argv and argv[0] in ("run", "wrap"):
        # Also a hot path: a cached `nono run` must cost little more than `nono exec`, and
        # argparse with the command table costs it milliseconds (nonoc.cli.run_cmd parses by hand).
        from nonoc.cli import run_cmd

        return run_cmd.main(argv[1:]) if argv[0] == "run" else run_cmd.main_wrap(argv[1:])
    from nonoc.cli.dispatch import dispatch
    from nonoc.cli.nonoc import _exists

    commands = {"exec": "nonoc.launch.cli"} | COMMANDS
    available = {name: mod for name, mod in commands.items() if _exists(mod)}
    return dispatch("nono", "Run AI agents inside a kernel-enforced sandbox.", available, argv)


if __name__ == "__main__":
    sys.exit(main())
