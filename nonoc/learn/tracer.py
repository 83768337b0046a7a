"""Run a command under strace and read what it did.

The command runs *unsandboxed*: learning watches, it does not restrict. strace follows
every process the command starts (``-f``) and reports only the calls that matter to a
filesystem and network policy (``%file``, ``%network``, ``execve``, plus the process calls
that tell a child's working directory); ``-y`` names every descriptor's path; the seccomp
filter strace installs (``--seccomp-bpf``) keeps the other calls from stopping the command.

Why strace rather than nono's seccomp supervisor in a record-only mode: a supervisor sees a
path argument as a pointer into the caller's memory and would have to read it from there and
resolve it as the kernel would (symlinks, ``AT_FDCWD``, ``..``); strace's ``-y`` reports the
descriptor the kernel actually opened. Standard library only.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass

from nonoc.errors import NonoError
from nonoc.learn.events import Trace
from nonoc.learn.strace_log import StraceReader

#: The calls strace reports (the rest still run, unreported and unstopped).
TRACED_CALLS = "%file,%network,execve,execveat,fchdir,clone,clone3,fork,vfork"


@dataclass(frozen=True)
class TraceRun:
    """The trace of one run and the command's exit status."""

    trace: Trace
    exit_status: int


def find_strace() -> str:
    """The strace executable on ``$PATH``; a one-line error naming it when it is missing."""
    found = shutil.which("strace")
    if found is None:
        raise NonoError(
            "strace is not installed (not found on PATH); nono learn traces the command with it: "
            "install it, e.g. `apt-get install strace`"
        )
    return found


def strace_command(strace: str, log: str, argv: Sequence[str]) -> list[str]:
    """The strace command line that traces ``argv`` into ``log``."""
    return [
        strace,
        "-f",  # follow every child
        "-qq",  # no attach/exit chatter
        "-y",  # paths of descriptors, as the kernel resolved them
        "--seccomp-bpf",  # stop only on traced calls: the command runs near full speed
        "-e",
        f"trace={TRACED_CALLS}",
        "-e",
        "signal=none",
        "-o",
        log,
        "--",
        *argv,
    ]


def run_traced(argv: Sequence[str], *, cwd: str | None = None) -> TraceRun:
    """Run ``argv`` under strace (in ``cwd``, default here) and return what it touched.

    The command keeps this terminal: its stdin, stdout and stderr are ours. A Ctrl-C goes to
    the command (it is in our process group); nono learn waits for it to end and still
    reads the trace of what happened until then.
    """
    if not argv:
        raise NonoError("no command to learn from (nono learn -- CMD [ARGS...])", exit_code=2)
    strace = find_strace()
    if shutil.which(argv[0]) is None and not os.path.isfile(argv[0]):
        raise NonoError(f"{argv[0]}: command not found", exit_code=127)
    workdir = os.path.abspath(cwd or os.getcwd())
    with tempfile.TemporaryDirectory(prefix="nono-learn-") as scratch:
        log = os.path.join(scratch, "trace.log")
        process = subprocess.Popen(strace_command(strace, log, argv), cwd=workdir)
        # The terminal's Ctrl-C reaches the command itself; we must outlive it to read the log.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            status = process.wait()
        finally:
            signal.signal(signal.SIGINT, previous)
        if not os.path.exists(log):
            raise NonoError(
                "strace produced no trace (is ptrace allowed here? a sandbox, a container "
                "without CAP_SYS_PTRACE or kernel.yama.ptrace_scope=3 forbid it)"
            )
        reader = StraceReader(workdir)
        with open(log, encoding="utf-8", errors="surrogateescape") as handle:
            trace = reader.feed_lines(handle)
    trace.exit_status = status
    if not trace.pids:
        raise NonoError(
            "strace traced nothing: the command did not start (see strace's message above)"
        )
    return TraceRun(trace, status)
