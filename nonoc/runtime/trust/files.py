"""Where trust material lives on disk, and how it is written.

Signature files sit next to what they sign (``CLAUDE.md`` → ``CLAUDE.md.sigstore.json``)
so that they travel with the file through git, archives and copies. User-level material
(keys, the user's trust policy) lives under ``$XDG_CONFIG_HOME/nono/``. Every write is a
temporary file in the same directory, fsynced, then renamed over the target: a reader
never sees half a file, and the user's own files are never opened for writing.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

SIGNATURE_SUFFIX = ".sigstore.json"


def config_dir() -> Path:
    """``$XDG_CONFIG_HOME/nono`` (``~/.config/nono`` when the variable is unset or relative)."""
    base = os.environ.get("XDG_CONFIG_HOME", "")
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".config"
    return root / "nono"


def signature_path(path: Path) -> Path:
    """The signature file of ``path``."""
    return path.with_name(path.name + SIGNATURE_SUFFIX)


def is_signature_file(path: Path) -> bool:
    """Whether ``path`` is itself a signature file."""
    return path.name.endswith(SIGNATURE_SUFFIX)


def atomic_write(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename; ``mode`` from the start.

    The temporary file is created with ``mode`` already set (never wider), so a private key
    is not readable by others even for an instant.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    # The rename is durable only once the directory entry is on disk.
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
