"""Signing keys: Ed25519, kept in the OS keyring, or in a 0600 file where no keyring works.

Where things live (``C`` is ``$XDG_CONFIG_HOME/nono``):

- private key: the OS keyring (service ``nono``, username ``signing-key:NAME``), or the
  PEM file ``C/keys/NAME.pem`` (0600, directory 0700) when no keyring backend works;
- the key's public half: ``C/keys/NAME.pub``, read by the compile cache to know which key
  would sign without touching the keyring;
- trust: ``C/trusted_keys/NAME.pub``, the directory ``nono exec`` trusts.

A key may also be named by the path of a PEM file (``--key ./ci-key.pem``), for CI
secrets and keys made with ``nonoc keygen --file``.

``cryptography`` and ``keyring`` are imported only when a key is made or used: the
cache-hit path of ``nonoc compile`` needs neither.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nonoc.errors import NonoError
from nonoc.launch.verify import (
    config_dir,
    keyid_of,
    public_key_from_pem,
    public_key_to_pem,
    trusted_keys_dir,
)

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from keyring.backend import KeyringBackend

DEFAULT_KEY = "default"
KEYRING_SERVICE = "nono"
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class SigningKey:
    """A private signing key and where it came from (``storage``: ``keyring`` or a file path)."""

    name: str
    private_pem: bytes
    public_raw: bytes
    storage: str

    @property
    def keyid(self) -> str:
        """The key id: SHA-256 (hex) of the raw public key, as in the DSSE envelope."""
        return keyid_of(self.public_raw)

    def sign(self, message: bytes) -> bytes:
        """Sign ``message`` (Ed25519 signatures are deterministic: same bytes, same signature)."""
        return _private_key(self.private_pem).sign(message)

    def where(self) -> str:
        """Where the private key is kept, in words for the user."""
        if self.storage == "keyring":
            return f"the OS keyring (service '{KEYRING_SERVICE}', user 'signing-key:{self.name}')"
        return self.storage


def keys_dir() -> str:
    """``$XDG_CONFIG_HOME/nono/keys``: file-stored private keys and every key's public half."""
    return os.path.join(config_dir(), "keys")


def _key_file(name: str, suffix: str) -> str:
    return os.path.join(keys_dir(), f"{name}{suffix}")


def is_key_path(spec: str) -> bool:
    """Whether ``--key`` names a PEM file rather than a key name."""
    return "/" in spec or spec.endswith(".pem")


def check_name(name: str) -> str:
    """Return ``name`` if it is a usable key name (it becomes a file name), else raise."""
    if not _NAME.match(name):
        raise NonoError(
            f"invalid key name {name!r}: use letters, digits, '_', '.' and '-'", exit_code=2
        )
    return name


def key_fingerprint(spec: str) -> str | None:
    """A cheap digest identifying the key ``spec`` would sign with, or ``None`` if unknown.

    Standard library only (the compile cache uses it before deciding to load anything):
    the digest of the key's public-half file, or of the PEM file for a path.
    """
    path = spec if is_key_path(spec) else _key_file(spec, ".pub")
    try:
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    except OSError:
        return None


def load_key(spec: str) -> SigningKey:
    """Load the key named ``spec`` (or the PEM file at that path); raise if there is none."""
    if is_key_path(spec):
        try:
            pem = _read(spec)
        except OSError as exc:
            raise NonoError(f"cannot read signing key {spec}: {exc.strerror}") from None
        return _make(key_stem(spec), pem, spec)
    key = _find(check_name(spec))
    if key is None:
        raise NonoError(
            f"no signing key named '{spec}'",
            notes=(f"create it with: nonoc keygen --name {spec}",),
        )
    return key


def ensure_key(spec: str) -> tuple[SigningKey, bool]:
    """Load ``spec``; for the default key, create and trust it on first use.

    Returns the key and whether it was just created. Any other missing key is an error:
    silently inventing a key the user named would sign with something they never trusted.
    """
    if spec == DEFAULT_KEY:
        key = _find(spec)
        if key is not None:
            return key, False
        return generate_key(spec), True
    return load_key(spec), False


def generate_key(
    name: str = DEFAULT_KEY, *, file: str | None = None, force: bool = False
) -> SigningKey:
    """Create an Ed25519 key, store it, record its public half and trust it on this machine.

    Storage is the OS keyring, or ``keys/NAME.pem`` when no keyring backend works; with
    ``file``, exactly that PEM file. An existing key is kept unless ``force``.
    """
    check_name(name)
    if not force and (_find(name) is not None or (file and os.path.exists(file))):
        where = file or f"key '{name}'"
        raise NonoError(
            f"signing key {where} already exists", notes=("pass --force to replace it",)
        )
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    if file is not None:
        write_private(file, pem)
        storage = file
    elif _keyring_store(name, pem):
        storage = "keyring"
        # A file left by an earlier fallback would shadow nothing but confuse; drop it.
        _unlink(_key_file(name, ".pem"))
    else:
        storage = _key_file(name, ".pem")
        write_private(storage, pem)
        # The directory may predate us with looser bits; it holds private keys now.
        os.chmod(keys_dir(), 0o700)
    key = _make(name, pem, storage)
    _record_public(key)
    trust_public_key(name, key.public_raw)
    return key


def trust_public_key(name: str, public_raw: bytes) -> str:
    """Add a public key to the set ``nono exec`` trusts, as ``trusted_keys/NAME.pub``."""
    path = os.path.join(trusted_keys_dir(), f"{check_name(name)}.pub")
    write_atomic(path, public_key_to_pem(public_raw).encode("ascii"), mode=0o644, dir_mode=0o755)
    return path


def write_private(path: str, pem: bytes) -> None:
    """Write a private key file 0600 (directory 0700 when we create it), atomically."""
    write_atomic(path, pem, mode=0o600, dir_mode=0o700)


def write_atomic(
    path: str | os.PathLike[str], data: bytes, *, mode: int, dir_mode: int = 0o755
) -> None:
    """Write ``data`` to ``path`` through a temp file and a rename; the file gets ``mode``.

    The temp file is created with ``mode`` already, so a private key is never readable
    by others, not even for an instant.
    """
    path = os.fspath(path)
    directory, name = os.path.split(os.path.abspath(path))
    os.makedirs(directory, mode=dir_mode, exist_ok=True)
    temp = os.path.join(directory, f".{name}.{os.getpid()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)  # the umask may have narrowed it; make it exactly ``mode``
        os.replace(temp, path)
    except BaseException:
        _unlink(temp)
        raise


# --------------------------------------------------------------------------- internals


def _find(name: str) -> SigningKey | None:
    pem = _keyring_load(name)
    if pem is not None:
        key = _make(name, pem, "keyring")
    else:
        path = _key_file(name, ".pem")
        try:
            pem = _read(path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise NonoError(f"cannot read signing key {path}: {exc.strerror}") from None
        key = _make(name, pem, path)
    # Keep the public half in step with the private key, so the cache names the right key.
    if (
        key_fingerprint(name)
        != hashlib.sha256(public_key_to_pem(key.public_raw).encode()).hexdigest()
    ):
        _record_public(key)
    return key


def _make(name: str, pem: bytes, storage: str) -> SigningKey:
    from cryptography.hazmat.primitives import serialization

    try:
        public = _private_key(pem).public_key()
    except (ValueError, TypeError) as exc:
        raise NonoError(
            f"signing key {storage if storage != 'keyring' else name!r} is not usable: {exc}"
        ) from None
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return SigningKey(name=name, private_pem=pem, public_raw=raw, storage=storage)


def _private_key(pem: bytes) -> Ed25519PrivateKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise TypeError("not an Ed25519 private key")
    return key


def _record_public(key: SigningKey) -> None:
    if key.storage in ("keyring", _key_file(key.name, ".pem")):
        write_atomic(
            _key_file(key.name, ".pub"),
            public_key_to_pem(key.public_raw).encode("ascii"),
            mode=0o644,
            dir_mode=0o700,
        )


def _usable_keyring() -> KeyringBackend | None:
    """The keyring backend, or None when it is the ``fail``/``null`` backend or unloadable."""
    try:
        import keyring
        from keyring.backends import fail, null

        backend = keyring.get_keyring()
    except Exception:  # any backend discovery failure means "no keyring"
        return None
    if isinstance(backend, (fail.Keyring, null.Keyring)):
        return None
    return backend


def _keyring_store(name: str, pem: bytes) -> bool:
    backend = _usable_keyring()
    if backend is None:
        return False
    username = f"signing-key:{name}"
    text = pem.decode("ascii")
    try:
        backend.set_password(KEYRING_SERVICE, username, text)
        # Some backends accept a write and drop it; trust only what reads back.
        return bool(backend.get_password(KEYRING_SERVICE, username) == text)
    except Exception:  # D-Bus, locked collections, …: fall back to the file
        return False


def _keyring_load(name: str) -> bytes | None:
    backend = _usable_keyring()
    if backend is None:
        return None
    try:
        text = backend.get_password(KEYRING_SERVICE, f"signing-key:{name}")
    except Exception:  # an unreachable keyring is the same as an empty one here
        return None
    return text.encode("ascii") if text else None


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _read(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def key_stem(path: str) -> str:
    """A key file's name without directory and extension (its name in ``trusted_keys/``)."""
    return os.path.splitext(os.path.basename(path))[0]


def public_raw_from_file(path: str | os.PathLike[str]) -> bytes:
    """The raw public key in a ``.pub`` PEM file (for ``nono trust`` and tests)."""
    try:
        return public_key_from_pem(_read(os.fspath(path)).decode("ascii"))
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise NonoError(f"{path}: not an Ed25519 public key ({exc})") from None
