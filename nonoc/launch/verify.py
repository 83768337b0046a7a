"""Verify a bundle before anything of it is applied: the launcher's side of signing.

A bundle is a DSSE envelope (see ``docs/bundles.md``). ``load_verified`` refuses, with
exit code 1, a bundle that is unreadable, malformed, of the wrong payload type, unsigned,
signed by a key that is not in ``$XDG_CONFIG_HOME/nono/trusted_keys/``, modified after
signing, or compiled for another operating system or CPU architecture.

Speed. Importing ``cryptography``'s Ed25519 costs more than the launcher's whole budget,
so a successful full verification leaves a *memo*: ``$XDG_CACHE_HOME/nono/verified/<digest>``
holding a MAC (keyed BLAKE2b) of the bundle's digest and of the trusted key set, keyed by a
secret kept 0600 beside the trusted keys. A later exec of the same bytes under the same
trusted keys checks that tag and nothing else. Whoever could forge a memo could read
``$XDG_CONFIG_HOME/nono/``, where they could as well add a trusted key; so the memo gives
nobody a power they did not have (the full argument is in ``docs/bundles.md``).

Standard library only at import time, and not ``json`` (which imports ``re``): the envelope
and payload are parsed by ``nonoc.launch.jsondata``. ``cryptography`` is imported on the
slow path and ``nonoc.errors`` only when refusing. Nothing here imports a compiler module.
"""

from __future__ import annotations

import binascii
import os
import sys

from nonoc.launch.jsondata import loads as json_loads

# The memo path must stay cheap. ``hashlib`` and ``hmac`` load OpenSSL when imported
# (~4 ms here, a third of the interpreter's start-up), so the memo uses the interpreter's
# built-in BLAKE2b, keyed (a MAC by design, RFC 7693), and the constant-time comparison
# ``hmac`` itself falls back to. Both fall back to the public modules where absent.
try:
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - every CPython build has it
    from hashlib import blake2b
try:
    from _operator import _compare_digest as compare_digest
except ImportError:  # pragma: no cover
    from hmac import compare_digest  # type: ignore[no-redef]

# ``typing`` and ``base64`` cost more to import than this whole module's work on the memo
# path (base64 pulls in ``re``); annotations are strings, and binascii does the base64.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NoReturn

PAYLOAD_TYPE = "application/vnd.nono.bundle+json"
FORMAT = "nono-bundle/1"

#: DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410); the raw 32-byte key follows.
_ED25519_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")
_MEMO_DOMAIN = b"nono-verified/1"
_SECRET_NAME = "local-secret"
_SECRET_BYTES = 32


# --------------------------------------------------------------------------- locations


def config_dir() -> str:
    """``$XDG_CONFIG_HOME/nono`` (``~/.config/nono`` when unset)."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "nono")


def cache_dir() -> str:
    """``$XDG_CACHE_HOME/nono`` (``~/.cache/nono`` when unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "nono")


def trusted_keys_dir() -> str:
    """The directory whose ``*.pub`` files ``nono exec`` trusts."""
    return os.path.join(config_dir(), "trusted_keys")


def native_arch() -> str:
    """This machine's architecture in nono's names (``x86_64``, ``aarch64``)."""
    machine = os.uname().machine.lower()
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)


def native_target() -> str:
    """``linux`` or ``macos``: the bundle section this machine runs."""
    return "macos" if sys.platform == "darwin" else "linux"


# --------------------------------------------------------------------------- DSSE


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE pre-authentication encoding: what a signature covers.

    ``"DSSEv1" SP len(type) SP type SP len(payload) SP payload``, lengths in ASCII decimal
    bytes. Binding the type into the signed bytes stops a payload of one type from being
    replayed as another.
    """
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def keyid_of(raw_public_key: bytes) -> str:
    """A key's id: the SHA-256 (hex) of its raw 32-byte public key."""
    import hashlib  # only where keys are parsed: the full path, or the compiler

    return hashlib.sha256(raw_public_key).hexdigest()


def digest(data: bytes) -> str:
    """A 256-bit BLAKE2b digest (hex): how the memo names bundles and trusted key sets."""
    return blake2b(data, digest_size=32).hexdigest()


def mac(secret: bytes, message: bytes) -> str:
    """A 256-bit keyed BLAKE2b tag (hex) of ``message`` under ``secret``."""
    return blake2b(message, digest_size=32, key=secret).hexdigest()


def public_key_from_pem(text: str) -> bytes:
    """The raw Ed25519 public key in a ``-----BEGIN PUBLIC KEY-----`` PEM (SPKI) text.

    Parsed with the standard library, so that neither the launcher nor the compile cache
    needs ``cryptography`` to know a key's id. Raises ``ValueError`` for anything but one
    Ed25519 public key.
    """
    lines = [line.strip() for line in text.strip().splitlines()]
    if (
        len(lines) < 3
        or lines[0] != "-----BEGIN PUBLIC KEY-----"
        or lines[-1] != "-----END PUBLIC KEY-----"
    ):
        raise ValueError("not a PEM public key")
    try:
        der = b64decode("".join(lines[1:-1]))
    except ValueError as exc:
        raise ValueError(f"bad base64 in PEM: {exc}") from None
    if len(der) != len(_ED25519_SPKI_PREFIX) + 32 or not der.startswith(_ED25519_SPKI_PREFIX):
        raise ValueError("not an Ed25519 public key")
    return der[len(_ED25519_SPKI_PREFIX) :]


def public_key_to_pem(raw_public_key: bytes) -> str:
    """The PEM (SPKI) text of a raw Ed25519 public key, as ``openssl pkey -pubout`` writes it."""
    body = b64encode(_ED25519_SPKI_PREFIX + raw_public_key)
    return f"-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----\n"


def b64decode(text: str) -> bytes:
    """Strict base64 (RFC 4648 alphabet, correct padding, nothing else); ``ValueError`` if not."""
    try:
        return binascii.a2b_base64(text.encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError(str(exc)) from None


def b64encode(data: bytes) -> str:
    """Standard base64 text of ``data``, without a newline."""
    return binascii.b2a_base64(data, newline=False).decode("ascii")


# --------------------------------------------------------------------------- trusted keys


def trusted_key_files() -> tuple[list[tuple[str, bytes]], str]:
    """The ``*.pub`` files in the trusted directory (name, bytes) and a digest of the set.

    The digest covers every file's name and bytes, usable key or not, so adding, removing
    or editing any of them invalidates every verification memo.
    """
    directory = trusted_keys_dir()
    try:
        names = sorted(name for name in os.listdir(directory) if name.endswith(".pub"))
    except OSError:
        names = []
    files: list[tuple[str, bytes]] = []
    for name in names:
        try:
            with open(os.path.join(directory, name), "rb") as handle:
                files.append((name, handle.read(16384)))
        except OSError:
            continue
    state = b"".join(b"%d:%s%d:%s" % (len(n), n.encode(), len(d), d) for n, d in files)
    return files, digest(b"nono-trusted-keys/1\0" + state)


def trusted_keys(files: list[tuple[str, bytes]] | None = None) -> dict[str, bytes]:
    """The trusted Ed25519 keys, keyid -> raw public key; unusable files are skipped."""
    keys: dict[str, bytes] = {}
    for _, data in trusted_key_files()[0] if files is None else files:
        try:
            raw = public_key_from_pem(data.decode("ascii"))
        except (ValueError, UnicodeDecodeError):
            continue
        keys[keyid_of(raw)] = raw
    return keys


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


def _memo_tag(secret: bytes, bundle_digest: str, trust_digest: str) -> str:
    return mac(secret, b"\0".join((_MEMO_DOMAIN, bundle_digest.encode(), trust_digest.encode())))


def _memo_path(bundle_digest: str) -> str:
    return os.path.join(cache_dir(), "verified", bundle_digest)


def _memo_holds(bundle_digest: str, trust_digest: str) -> bool:
    secret = local_secret(create=False)
    if secret is None:
        return False
    try:
        with open(_memo_path(bundle_digest), "rb") as handle:
            stored = handle.read(128).strip()
    except OSError:
        return False
    expected = _memo_tag(secret, bundle_digest, trust_digest).encode()
    return bool(compare_digest(stored, expected))


def _write_memo(bundle_digest: str, trust_digest: str) -> None:
    """Remember a full verification; best effort (a read-only cache only costs speed)."""
    secret = local_secret(create=True)
    if secret is None:
        return
    path = _memo_path(bundle_digest)
    temp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        with open(temp, "w", encoding="ascii") as handle:
            handle.write(_memo_tag(secret, bundle_digest, trust_digest) + "\n")
        os.replace(temp, path)
    except OSError:
        try:
            os.unlink(temp)
        except OSError:
            pass


# --------------------------------------------------------------------------- verification


def _refuse(path: str, message: str, *notes: str) -> NoReturn:
    # Imported here: nonoc.errors pulls in dataclasses, which the fast path does not need.
    from nonoc.errors import NonoError, Span

    raise NonoError(message, Span(path), notes=tuple(notes), exit_code=1)


def parse_envelope(path: str, data: bytes) -> tuple[bytes, list[dict[str, Any]]]:
    """Check the envelope's shape and type; return the decoded payload and the signatures."""
    try:
        envelope = json_loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        _refuse(path, f"not a nono bundle: malformed JSON ({exc})")
    if not isinstance(envelope, dict):
        _refuse(path, "not a nono bundle: the envelope is not a JSON object")
    payload_type = envelope.get("payloadType")
    if payload_type != PAYLOAD_TYPE:
        _refuse(
            path, f"not a nono bundle: payloadType is {payload_type!r}, expected {PAYLOAD_TYPE!r}"
        )
    encoded = envelope.get("payload")
    signatures = envelope.get("signatures", [])
    if not isinstance(encoded, str) or not isinstance(signatures, list):
        _refuse(path, "not a nono bundle: 'payload' must be a string and 'signatures' a list")
    try:
        payload = b64decode(encoded)
    except ValueError:
        _refuse(path, "not a nono bundle: the payload is not valid base64")
    if not all(
        isinstance(s, dict)
        and isinstance(s.get("sig"), str)
        and isinstance(s.get("keyid", ""), str)
        for s in signatures
    ):
        _refuse(
            path,
            "not a nono bundle: every signature needs a 'sig' string (and a 'keyid' string, if any)",
        )
    return payload, signatures


def verify_signatures(
    path: str, payload: bytes, signatures: list[dict[str, Any]], keys: dict[str, bytes]
) -> str:
    """Return the id of a trusted key with a valid signature over ``payload``, or refuse."""
    if not signatures:
        _refuse(
            path,
            "bundle is unsigned; nono exec runs only signed bundles",
            "compile it without --unsigned to sign it with your key",
        )
    # Imported only on the slow path: it costs more than the rest of the launcher.
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    message = pae(PAYLOAD_TYPE, payload)
    bad: list[str] = []
    for signature in signatures:
        keyid = signature.get("keyid") or ""
        candidates = [keyid] if keyid in keys else ([] if keyid else sorted(keys))
        try:
            sig = b64decode(signature["sig"])
        except ValueError:
            bad.append(keyid)
            continue
        for candidate in candidates:
            try:
                Ed25519PublicKey.from_public_bytes(keys[candidate]).verify(sig, message)
            except InvalidSignature:
                bad.append(candidate)
                continue
            return candidate
    if bad:
        _refuse(
            path,
            f"bundle signature does not verify (key {bad[0][:16] or '?'}): "
            "the bundle was changed after signing",
        )
    ids = ", ".join(str(s.get("keyid") or "?")[:16] for s in signatures)
    _refuse(
        path,
        f"bundle is signed by an untrusted key ({ids})",
        f"nono exec trusts the public keys in {trusted_keys_dir()}",
        "to trust a key, copy its .pub file there (nonoc keygen does this for your own key)",
    )


def check_payload(path: str, payload: bytes) -> dict[str, Any]:
    """Parse the payload and refuse a foreign format, target or architecture."""
    try:
        document = json_loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        _refuse(path, f"malformed bundle payload ({exc})")
    if not isinstance(document, dict):
        _refuse(path, "malformed bundle payload: no manifest")
    manifest = document.get("manifest")
    if not isinstance(manifest, dict):
        _refuse(path, "malformed bundle payload: no manifest")
    if document.get("format") != FORMAT:
        _refuse(
            path, f"unsupported bundle format {document.get('format')!r} (this nono reads {FORMAT})"
        )
    targets = manifest.get("targets")
    here = native_target()
    if not isinstance(targets, list) or here not in targets or here not in document:
        shown = ", ".join(map(str, targets)) if isinstance(targets, list) else "nothing"
        _refuse(
            path,
            f"bundle is compiled for {shown}, not {here}",
            f"recompile it with --target {here}",
        )
    arch = manifest.get("arch")
    machine = native_arch()
    if arch not in ("any", machine):
        _refuse(
            path,
            f"bundle is compiled for {arch}, this machine is {machine}",
            f"recompile it with --arch {machine}",
        )
    return document


def load_verified(path: str, *, memo: bool = True) -> dict[str, Any]:
    """Read, verify and return the payload of the bundle at ``path``; refuse anything else.

    Raises ``nonoc.errors.NonoError`` (exit code 1) naming the bundle. With ``memo`` (the
    default) a bundle whose exact bytes were fully verified before, under the same trusted
    keys, is accepted on an authenticated memo instead of a new signature check.
    """
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        _refuse(path, f"cannot read bundle: {exc.strerror or exc}")
    # Everything below works on these bytes only: what was verified is what is applied.
    payload, signatures = parse_envelope(path, data)
    files, trust_digest = trusted_key_files()
    bundle_digest = digest(data)
    if not (memo and signatures and _memo_holds(bundle_digest, trust_digest)):
        verify_signatures(path, payload, signatures, trusted_keys(files))
        if memo:
            _write_memo(bundle_digest, trust_digest)
    return check_payload(path, payload)
