"""The programs the kernel itself opens to run a file: ELF interpreters and ``#!`` lines.

``execve("/opt/tool/bin/x")`` also opens ``/lib64/ld-linux-x86-64.so.2`` (the ELF's
``PT_INTERP``) or, for a script, the program its ``#!`` line names, and Landlock checks
the execute right on those too. A tracer only sees the ``execve`` of the file itself, so
the learner reads the file to find them. Standard library only.
"""

from __future__ import annotations

import struct
from typing import BinaryIO

_PT_INTERP = 3
_MAX_SHEBANG = 256


def interpreters(path: str, *, depth: int = 2) -> list[str]:
    """What the kernel opens to run ``path``: its ELF interpreter or ``#!`` program, recursively.

    Returns an empty list for an unreadable file or one that needs nothing else.
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(_MAX_SHEBANG)
            if head.startswith(b"#!"):
                line = head[2:].split(b"\n", 1)[0].strip()
                program = line.split(None, 1)[0].decode("utf-8", "surrogateescape") if line else ""
                if not program.startswith("/"):
                    return []
                found = [program]
                if depth > 0:
                    found += interpreters(program, depth=depth - 1)
                return found
            if head.startswith(b"\x7fELF"):
                interpreter = _elf_interpreter(handle, head)
                return [interpreter] if interpreter else []
    except OSError:
        return []
    return []


def _elf_interpreter(handle: BinaryIO, head: bytes) -> str | None:
    """The ``PT_INTERP`` path of an ELF file, or None (static binaries have none)."""
    if len(head) < 64:
        return None
    wide = head[4] == 2  # ELFCLASS64
    order = "<" if head[5] == 1 else ">"
    if wide:
        (phoff,) = struct.unpack_from(order + "Q", head, 0x20)
        phentsize, phnum = struct.unpack_from(order + "HH", head, 0x36)
    else:
        (phoff,) = struct.unpack_from(order + "I", head, 0x1C)
        phentsize, phnum = struct.unpack_from(order + "HH", head, 0x2A)
    if not 0 < phnum <= 256 or phentsize < (56 if wide else 32):
        return None
    handle.seek(phoff)
    table = handle.read(phentsize * phnum)
    for index in range(phnum):
        entry = table[index * phentsize : (index + 1) * phentsize]
        if len(entry) < phentsize:
            return None
        (kind,) = struct.unpack_from(order + "I", entry, 0)
        if kind != _PT_INTERP:
            continue
        if wide:
            (offset,) = struct.unpack_from(order + "Q", entry, 0x08)
            (size,) = struct.unpack_from(order + "Q", entry, 0x20)
        else:
            (offset,) = struct.unpack_from(order + "I", entry, 0x04)
            (size,) = struct.unpack_from(order + "I", entry, 0x10)
        if not 0 < size <= 4096:
            return None
        handle.seek(offset)
        raw = handle.read(size).rstrip(b"\x00")
        return raw.decode("utf-8", "surrogateescape") or None
    return None
