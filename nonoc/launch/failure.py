"""The launcher's errors, built lazily: ``nonoc.errors`` is imported only when one is raised.

``nonoc.errors`` uses dataclasses, whose import (through ``inspect``) costs the launcher
several milliseconds on every successful start; a failing start can afford it.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs the launcher milliseconds at run time
    from collections.abc import Iterable


def sandbox_error(message: str, notes: Iterable[str] = ()) -> Exception:
    """A ``SandboxError`` (exit 126): the sandbox cannot be applied as the bundle asks."""
    from nonoc.errors import SandboxError

    return SandboxError(message, notes=tuple(notes))


def nono_error(message: str, notes: Iterable[str] = (), exit_code: int = 1) -> Exception:
    """A ``NonoError`` (exit 1 unless told): nono's own failure, e.g. a malformed bundle."""
    from nonoc.errors import NonoError

    return NonoError(message, notes=tuple(notes), exit_code=exit_code)
