"""``syscall(2)`` and ``prctl(2)`` from Python, through ``_ctypes`` rather than ``ctypes``.

Why not ``ctypes``: importing it costs the launcher about 1.5 ms here (it builds every C
type, checks their sizes against ``struct``, defines the byte-order structures), a seventh
of the interpreter's own start-up, while the launcher calls two C functions. ``_ctypes`` is
the C extension ``ctypes`` is written on; this module uses the same three pieces of it that
``ctypes.CDLL(None, use_errno=True)`` uses: ``dlopen``, a function-pointer type with the
errno-saving flag, and the C ``long``/``int`` scalar types.

Every argument is passed as a C ``long`` (integers) or a pointer (``bytes``, ``None`` for
NULL), which is how the kernel's system-call convention and glibc's variadic ``syscall``
and ``prctl`` read them. A structure the kernel only reads is passed as the ``bytes`` of its
fields in native byte order (see ``nonoc.launch.landlock``), and memory a structure points
to is a ``Pinned`` copy (``struct sock_fprog``'s program, say); nothing here hands the
kernel memory to write into. Standard library only.
"""

from __future__ import annotations

import _ctypes  # the C half of ctypes
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs the launcher milliseconds at run time
    from typing import Any


class _Long(_ctypes._SimpleCData):  # type: ignore[type-arg]
    _type_ = "l"


class _Int(_ctypes._SimpleCData):  # type: ignore[type-arg]
    _type_ = "i"


class _Char(_ctypes._SimpleCData):  # type: ignore[type-arg]
    _type_ = "c"


class _LongFunction(_ctypes.CFuncPtr):
    """A C function returning ``long``; errno is saved right after each call."""

    _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
    _restype_ = _Long


class _IntFunction(_ctypes.CFuncPtr):
    """A C function returning ``int`` (its upper register bits are not part of the result)."""

    _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
    _restype_ = _Int


class _Process:
    """The running program's own symbols (``dlopen(NULL)``), as ``ctypes.CDLL(None)`` holds them.

    ``CFuncPtr`` looks a symbol up in any object with a ``_handle``.
    """

    __slots__ = ("_handle",)

    def __init__(self) -> None:
        # NULL names the program itself (dlopen(3)); the stub only knows file names.
        self._handle = _ctypes.dlopen(None, _ctypes.RTLD_LOCAL)  # type: ignore[arg-type]


_functions: dict[str, Any] = {}


def _function(name: str, kind: type) -> Any:
    found = _functions.get(name)
    if found is None:
        found = _functions[name] = kind((name, _Process()))
    return found


def _convert(args: tuple[int | bytes | None, ...]) -> list[object]:
    return [_Long(a) if isinstance(a, int) else a for a in args]


def _check(result: int) -> int:
    if result < 0:
        err = _ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return result


def syscall(number: int, *args: int | bytes | None) -> int:
    """``syscall(number, *args)``; its non-negative result, or ``OSError`` with the errno."""
    return _check(int(_function("syscall", _LongFunction)(_Long(number), *_convert(args))))


def prctl(option: int, *args: int | bytes | None) -> int:
    """``prctl(option, *args)`` (unused trailing arguments as 0); ``OSError`` on failure."""
    padded = (*args, 0, 0, 0, 0)[:4]
    return _check(int(_function("prctl", _IntFunction)(_Long(option), *_convert(padded))))


def u64(value: int) -> bytes:
    """An unsigned 64-bit structure field in native byte order."""
    return value.to_bytes(8, sys.byteorder)


def s32(value: int) -> bytes:
    """A signed 32-bit structure field in native byte order."""
    return value.to_bytes(4, sys.byteorder, signed=True)


def u16(value: int) -> bytes:
    """An unsigned 16-bit structure field in native byte order."""
    return value.to_bytes(2, sys.byteorder)


#: Size of a C pointer (and of ``long``) on this machine.
POINTER_SIZE = 8 if sys.maxsize > 2**32 else 4


class Pinned:
    """A private copy of some bytes at a fixed address, for a structure that points to them.

    Keep the object alive until the kernel has read the memory (it copies it in the call).
    """

    __slots__ = ("_buffer", "address")

    def __init__(self, data: bytes) -> None:
        self._buffer = (_Char * len(data)).from_buffer_copy(data)
        self.address: int = _ctypes.addressof(self._buffer)

    def pointer(self) -> bytes:
        """The address as a pointer-sized structure field in native byte order."""
        return self.address.to_bytes(POINTER_SIZE, sys.byteorder)
