"""strace's output syntax: lines, arguments, C-escaped strings, descriptor annotations.

Only the syntax lives here; what the calls mean for a policy is ``strace_log``. strace
prints (with ``-f -y``)::

    PID NAME(ARG, ARG, ...) = RESULT[<ANNOTATION>] [ERRNO (text)]
    PID NAME(ARG, ... <unfinished ...>
    PID <... NAME resumed>ARG, ...) = RESULT

Strings are C-escaped (``\\303\\251``, ``\\"``); ``-y`` annotates descriptors with the path
behind them, escaping ``>`` as ``\\76`` (``3</a\\76b>``).
"""

from __future__ import annotations

import os
import re

LINE = re.compile(r"^(?:\[pid\s+)?(?P<pid>\d+)\]?\s+(?P<rest>.*)$")
RESUMED = re.compile(r"^<\.\.\. (?P<name>\w+) resumed>(?P<tail>.*)$")
UNFINISHED = " <unfinished ...>"
CALL = re.compile(r"^(?P<name>\w+)\((?P<rest>.*)$")
RESULT = re.compile(
    r"^\s*=\s*(?P<value>-?\d+|0x[0-9a-fA-F]+|\?)"
    r"(?:<(?P<annotation>(?:[^>\\]|\\.)*)>)?"
    r"(?:\s+(?P<errno>E[A-Z0-9]+))?"
)
_FD = re.compile(r"^(?P<fd>AT_FDCWD|-?\d+)(?:<(?P<annotation>(?:[^>\\]|\\.)*)>)?$")
_FAMILY = re.compile(r"sa_family=(?P<family>AF_\w+)")
_PORT = re.compile(r"sin6?_port=htons\((?P<port>\d+)\)")
_INET = re.compile(r'sin_addr=inet_addr\("(?P<address>[^"]*)"\)')
_INET6 = re.compile(r'inet_pton\(AF_INET6, "(?P<address>[^"]*)"')
_UNIX = re.compile(r'sun_path=(?P<abstract>@?)"(?P<path>(?:[^"\\]|\\.)*)"')
SOCKET_INODE = re.compile(r"^socket:\[(?P<inode>\d+)\]$")
FAMILIES = {"AF_INET": "inet", "AF_INET6": "inet6", "AF_UNIX": "unix", "AF_LOCAL": "unix"}
_ESCAPES = {"n": 10, "t": 9, "r": 13, "v": 11, "f": 12, "a": 7, "b": 8, "e": 27}


def decode_c_string(text: str) -> str:
    """Undo strace's C-style escaping (``\\"``, ``\\n``, ``\\x41``, ``\\303\\251``) into a str.

    Octal and hex escapes are bytes: they are gathered and decoded as the file system
    encoding does, so a UTF-8 file name comes back as the name it is.
    """
    out = bytearray()
    i = 0
    while i < len(text):
        char = text[i]
        if char != "\\" or i + 1 == len(text):
            out += char.encode("utf-8", "surrogateescape")
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "x":
            digits = re.match(r"[0-9a-fA-F]{1,2}", text[i + 2 :])
            if digits:
                out.append(int(digits.group(), 16))
                i += 2 + len(digits.group())
                continue
        if nxt in "01234567":
            digits = re.match(r"[0-7]{1,3}", text[i + 1 :])
            assert digits is not None
            out.append(int(digits.group(), 8) & 0xFF)
            i += 1 + len(digits.group())
            continue
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
        else:
            out += nxt.encode("utf-8", "surrogateescape")
        i += 2
    return os.fsdecode(bytes(out))


def split_call(text: str) -> tuple[list[str], str] | None:
    """Split ``a, "b,c", {x=1, y=[2]}) = 0`` into its top-level arguments and the result text.

    Quoted strings and ``<...>`` descriptor annotations are opaque; brackets nest. Returns
    None when the closing parenthesis is missing (a truncated line).
    """
    args: list[str] = []
    depth = 0
    start = 0
    i = 0
    while i < len(text):
        char = text[i]
        if char == '"' or char == "<":
            closer = '"' if char == '"' else ">"
            i += 1
            while i < len(text) and text[i] != closer:
                i += 2 if text[i] == "\\" else 1
        elif char in "({[":
            depth += 1
        elif char in "}]":
            depth -= 1
        elif char == ")":
            if depth == 0:
                last = text[start:i].strip()
                if last or args:
                    args.append(last)
                return args, text[i + 1 :]
            depth -= 1
        elif char == "," and depth == 0:
            args.append(text[start:i].strip())
            start = i + 1
        i += 1
    return None


def quoted(arg: str) -> str | None:
    """The value of a quoted string argument (``"x"`` or a truncated ``"x"...``), else None."""
    if not arg.startswith('"'):
        return None
    i = 1
    while i < len(arg) and arg[i] != '"':
        i += 2 if arg[i] == "\\" else 1
    return decode_c_string(arg[1:i])


def fd_annotation(arg: str) -> tuple[str, str | None] | None:
    """``AT_FDCWD</x>`` → ("AT_FDCWD", "/x"); ``3</x>`` → ("3", "/x"); None for anything else."""
    match = _FD.match(arg.strip())
    if match is None:
        return None
    annotation = match.group("annotation")
    return match.group("fd"), decode_c_string(annotation) if annotation is not None else None


def clean_annotation(path: str | None) -> str | None:
    """An annotation that names a real path, or None (``pipe:[1]``, a deleted file...)."""
    if not path or not path.startswith("/") or path.endswith(" (deleted)"):
        return None
    return path


def sockaddr(text: str) -> tuple[str, str, int | None] | None:
    """(family, address, port) of the first socket address in ``text``, or None.

    ``family`` is ``inet``, ``inet6`` or ``unix``; a unix address is its path, ``@name`` for
    an abstract one, with no port.
    """
    family_match = _FAMILY.search(text)
    if family_match is None:
        return None
    family = FAMILIES.get(family_match.group("family"))
    if family == "unix":
        unix = _UNIX.search(text)
        if unix is None:
            return None
        return (
            family,
            ("@" if unix.group("abstract") else "") + decode_c_string(unix.group("path")),
            None,
        )
    if family not in ("inet", "inet6"):
        return None
    port = _PORT.search(text)
    address = (_INET if family == "inet" else _INET6).search(text)
    if port is None or address is None:
        return None
    return family, address.group("address"), int(port.group("port"))
