"""Blank secrets in ``nono run``'s own environment block, which the sandboxed child can read.

``/proc/PID/environ`` shows the environment a process was started with, read live from its
memory. A Landlock-sandboxed process is refused ``ptrace`` attach-mode access to processes
outside its domain (``/proc/PID/mem``: EACCES), but on the kernels tested here (6.18) not
read-mode access: it *can* read ``/proc/PID/environ`` of a process of the same user outside
the sandbox — its own parent included. So a secret that reached ``nono run`` through its
environment (a route's ``env://VAR``, or an ``OPENAI_API_KEY`` the user's shell exports and
the route replaces with a placeholder) would be one ``open`` away from the agent, however
carefully the child's own environment was built.

``blank`` overwrites those values in place, in this process's memory, before the child is
started: the block keeps its length and layout (the C library's ``environ`` pointers stay
valid) and each blanked value reads as NUL bytes. Python's ``os.environ`` is a copy made at
start-up and is not affected, so nono itself still has the values it read. Linux only;
elsewhere (or if ``/proc/self/mem`` cannot be written) it does nothing and says so.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

#: ``/proc/PID/stat`` field numbers (1-based) of the environment block's bounds.
ENV_START_FIELD, ENV_END_FIELD = 50, 51


def blank(names: Iterable[str]) -> list[str]:
    """Overwrite the values of ``names`` in this process's initial environment block.

    Returns the names that were found and blanked. Raises ``OSError`` when the block
    cannot be read or written (the caller decides whether that stops the run).
    """
    wanted = {name.encode() for name in names}
    if not wanted:
        return []
    with open("/proc/self/stat", "rb") as handle:
        # The command name (field 2) may hold spaces and parentheses: split after its end.
        fields = handle.read().rsplit(b")", 1)[1].split()
    start = int(fields[ENV_START_FIELD - 3])
    end = int(fields[ENV_END_FIELD - 3])
    done: list[str] = []
    with open("/proc/self/mem", "r+b", buffering=0) as memory:
        memory.seek(start)
        block = memory.read(end - start)
        offset = 0
        for entry in block.split(b"\0"):
            name, sep, value = entry.partition(b"=")
            if sep and name in wanted and value:
                memory.seek(start + offset + len(name) + 1)
                memory.write(b"\0" * len(value))
                done.append(name.decode())
            offset += len(entry) + 1
    return sorted(set(done))
