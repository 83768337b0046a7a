"""The verification memo: what ``nono exec`` remembers of a bundle it verified in full.

Checking an Ed25519 signature means importing ``cryptography``, which costs more than the
launcher's whole budget, and decoding a bundle's payload builds thousands of objects the
launcher never reads (the provenance of every rule). So after a full verification the
launcher writes ``$XDG_CACHE_HOME/nono/verified/<digest of the bundle bytes>``:

* line 1: a MAC (keyed BLAKE2b-256, hex) of a domain string, the bundle's digest, a
  context (the caller's: digests of the trusted key set and of the Landlock rights table),
  the interpreter's cache tag and the view below, keyed by the local secret
  (``$XDG_CONFIG_HOME/nono/local-secret``, 0600, beside the trusted keys);
* the rest: the *view*, what the launcher decoded (the payload without its provenance,
  and the rights facts), in ``marshal`` form, which loads several times faster than the
  JSON it came from.

A later exec of the same bytes in the same context checks the tag over the view it read,
and only then loads it. Whoever could forge a memo could read the local secret,
which sits in the same directory as the trusted keys, where they could as well trust a key
of their own: the memo gives nobody a power they did not have (``docs/bundles.md``).

Standard library only: the interpreter's built-in BLAKE2b (``hashlib`` and ``hmac`` load
OpenSSL on import, ~4 ms here) and the constant-time comparison ``hmac`` itself uses.
"""

from __future__ import annotations

import marshal  # built in, and loaded by the interpreter's own start-up anyway
import os
import sys

try:
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - every CPython build has it
    from hashlib import blake2b
try:
    from _operator import _compare_digest as compare_digest
except ImportError:  # pragma: no cover
    from hmac import compare_digest  # type: ignore[no-redef]

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs the launcher milliseconds at run time
    from typing import Any

_DOMAIN = b"nono-verified/3"
_SECRET_NAME = "local-secret"
_SECRET_BYTES = 32
_TAG_CHARS = 64
#: A view is a decoded bundle payload: never near this size, but reading stops there.
_MAX_MEMO_BYTES = 64 << 20


def config_dir() -> str:
    """``$XDG_CONFIG_HOME/nono`` (``~/.config/nono`` when unset)."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "nono")


def cache_dir() -> str:
    """``$XDG_CACHE_HOME/nono`` (``~/.cache/nono`` when unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "nono")


def digest(data: bytes) -> str:
    """A 256-bit BLAKE2b digest (hex): how the memo names bundles and trusted key sets."""
    return blake2b(data, digest_size=32).hexdigest()


def mac(secret: bytes, message: bytes) -> str:
    """A 256-bit keyed BLAKE2b tag (hex) of ``message`` under ``secret``."""
    return blake2b(message, digest_size=32, key=secret).hexdigest()


# --------------------------------------------------------------------------- local secret


def local_secret(*, create: bool) -> bytes | None:
    """The 32-byte secret that authenticates memos (and the compiler's cache index).

    It lives at ``$XDG_CONFIG_HOME/nono/local-secret``, 0600, beside the trusted keys. A file
    that is not ours, not a regular file or readable by others is not trusted: ``None``
    (no memo is used or written). With ``create``, a missing secret is made atomically.
    """
    path = os.path.join(config_dir(), _SECRET_NAME)
    secret = _read_secret(path)
    if secret is not None or not create:
        return secret
    try:
        os.makedirs(config_dir(), mode=0o700, exist_ok=True)
        temp = f"{path}.{os.getpid()}.tmp"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, os.urandom(_SECRET_BYTES))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            # link() refuses to replace: when two processes race, the first secret wins.
            os.link(temp, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(temp)
    except OSError:
        return None
    return _read_secret(path)


def _read_secret(path: str) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if (
            (info.st_mode & 0o170000) != 0o100000
            or info.st_mode & 0o077
            or info.st_uid != os.getuid()
        ):
            return None
        data = os.read(fd, _SECRET_BYTES + 1)
    finally:
        os.close(fd)
    return data if len(data) == _SECRET_BYTES else None


# --------------------------------------------------------------------------- memo


def _tag(secret: bytes, bundle_digest: str, context: str, view: bytes) -> bytes:
    # The cache tag names the interpreter: marshal's format is only promised within one.
    head = (_DOMAIN, bundle_digest.encode(), context.encode(), _cache_tag())
    return mac(secret, b"\0".join(head) + b"\0" + view).encode()


def _cache_tag() -> bytes:
    return str(sys.implementation.cache_tag).encode()


def memo_path(bundle_digest: str) -> str:
    """Where the memo of the bundle whose bytes have digest ``bundle_digest`` lives."""
    return os.path.join(cache_dir(), "verified", bundle_digest)


def recall(bundle_digest: str, context: str) -> dict[str, Any] | None:
    """The view remembered for a bundle verified before in the same ``context``, or None.

    ``None`` for every kind of miss: no secret, no memo, a tag that does not verify (forged,
    copied from another bundle, another context, another interpreter), a view that is not
    a mapping. Nothing of the memo is decoded before its tag is checked.
    """
    secret = local_secret(create=False)
    if secret is None:
        return None
    try:
        with open(memo_path(bundle_digest), "rb") as handle:
            stored = handle.read(_MAX_MEMO_BYTES)
    except OSError:
        return None
    tag, newline, view = (
        stored[:_TAG_CHARS],
        stored[_TAG_CHARS : _TAG_CHARS + 1],
        stored[_TAG_CHARS + 1 :],
    )
    if newline != b"\n" or not compare_digest(tag, _tag(secret, bundle_digest, context, view)):
        return None
    try:
        document = marshal.loads(view)
    except (EOFError, ValueError, TypeError):  # pragma: no cover - only our own bytes get here
        return None
    return document if isinstance(document, dict) else None


def remember(bundle_digest: str, context: str, view: dict[str, Any]) -> None:
    """Record a full verification in ``context`` and its ``view``; best effort (atomic write).

    A read-only or missing cache only costs speed: the next exec verifies in full again.
    """
    secret = local_secret(create=True)
    if secret is None:
        return
    blob = marshal.dumps(view)
    path = memo_path(bundle_digest)
    temp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        with open(fd, "wb") as handle:
            handle.write(_tag(secret, bundle_digest, context, blob) + b"\n" + blob)
        os.replace(temp, path)
    except OSError:
        try:
            os.unlink(temp)
        except OSError:
            pass
