"""Signing keys for instruction files: Ed25519 or ECDSA P-256.

The private key goes to the OS keyring (service ``nono``, username ``trust-key:NAME``,
value the PKCS#8 PEM). When no keyring is usable (a headless machine, CI), it goes to a
PEM file at mode 0600 instead and is named by a ``file://`` URI. Either way a small
record ``$XDG_CONFIG_HOME/nono/trust-keys/NAME.json`` says where the private key is, and
``NAME.pub`` holds the public key to hand to whoever must trust it.

A key's id is the SHA-256 of its SubjectPublicKeyInfo DER, in hex.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlparse

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from nonoc.errors import NonoError
from nonoc.runtime.trust.envelope import PrivateKey, PublicKey
from nonoc.runtime.trust.files import atomic_write, config_dir
from nonoc.runtime.trust.statement import canonical_json

Algorithm = Literal["ed25519", "p256"]
ALGORITHMS: tuple[Algorithm, ...] = ("ed25519", "p256")
KEYRING_SERVICE = "nono"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class TrustKeyError(NonoError):
    """A key cannot be created, found or read (exit code 1)."""


@dataclass(frozen=True)
class SigningKey:
    """A private key ready to sign, with the name and id it is known by."""

    name: str
    algorithm: Algorithm
    private_key: PrivateKey

    @property
    def public_key(self) -> PublicKey:
        """The matching public key."""
        return self.private_key.public_key()

    @property
    def keyid(self) -> str:
        """SHA-256 of the public key's SubjectPublicKeyInfo DER, hex."""
        return keyid(self.public_key)


@dataclass(frozen=True)
class StoredKey:
    """What ``trust-keys/NAME.json`` records about a key."""

    name: str
    algorithm: Algorithm
    keyid: str
    location: str  # "keyring" or a file:// URI
    public_key_path: Path


def keyring_username(name: str) -> str:
    """The keyring username a key is stored under."""
    return f"trust-key:{name}"


def keys_dir() -> Path:
    """``$XDG_CONFIG_HOME/nono/trust-keys``."""
    return config_dir() / "trust-keys"


def keyid(public_key: PublicKey) -> str:
    """The id of ``public_key``: SHA-256 of its SubjectPublicKeyInfo DER, hex."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def algorithm_of(key: PrivateKey | PublicKey) -> Algorithm:
    """``ed25519`` or ``p256``; any other key is refused."""
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return "ed25519"
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        if isinstance(key.curve, ec.SECP256R1):
            return "p256"
        raise TrustKeyError(f"ECDSA keys must use P-256, not {key.curve.name}")
    raise TrustKeyError(f"unsupported key type {type(key).__name__}: use Ed25519 or ECDSA P-256")


def generate(algorithm: Algorithm) -> PrivateKey:
    """A fresh private key."""
    if algorithm == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if algorithm == "p256":
        return ec.generate_private_key(ec.SECP256R1())
    raise TrustKeyError(f"unknown algorithm {algorithm!r} (choose ed25519 or p256)")


def public_pem(key: PublicKey) -> bytes:
    """SubjectPublicKeyInfo PEM."""
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_public_pem(data: bytes, origin: str) -> PublicKey:
    """Read a PEM public key; refuse anything but Ed25519 and P-256."""
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise TrustKeyError(f"{origin}: not a PEM public key") from exc
    if not isinstance(key, ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey):
        raise TrustKeyError(f"{origin}: unsupported key type; use Ed25519 or ECDSA P-256")
    algorithm_of(key)
    return key


def check_name(name: str) -> str:
    """Validate a key name (letters, digits, ``.``, ``_``, ``-``; at most 64)."""
    if not _NAME.match(name):
        raise TrustKeyError(
            f"invalid key name {name!r}: use letters, digits, '.', '_' and '-' (at most 64)"
        )
    return name


def create(name: str, algorithm: Algorithm, *, store: str = "auto") -> StoredKey:
    """Generate a key called ``name`` and store it (``store``: auto, keyring or file).

    Refuses to overwrite an existing key of that name: a lost private key cannot be had back.
    """
    check_name(name)
    record_path = keys_dir() / f"{name}.json"
    if record_path.exists():
        raise TrustKeyError(f"a key named '{name}' already exists ({record_path})")
    private_key = generate(algorithm)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    location = _store_private(name, pem, store)
    public_path = keys_dir() / f"{name}.pub"
    atomic_write(public_path, public_pem(private_key.public_key()))
    stored = StoredKey(name, algorithm, keyid(private_key.public_key()), location, public_path)
    record = {
        "name": name,
        "algorithm": algorithm,
        "keyid": stored.keyid,
        "private_key": location,
        "public_key": public_path.name,
    }
    atomic_write(record_path, canonical_json(record) + b"\n")
    return stored


def _store_private(name: str, pem: bytes, store: str) -> str:
    if store not in ("auto", "keyring", "file"):
        raise TrustKeyError(f"unknown key store {store!r} (choose auto, keyring or file)")
    if store in ("auto", "keyring"):
        problem = _keyring_set(keyring_username(name), pem.decode("ascii"))
        if problem is None:
            return "keyring"
        if store == "keyring":
            raise TrustKeyError(f"cannot store key '{name}' in the OS keyring: {problem}")
    path = keys_dir() / f"{name}.key"
    keys_dir().mkdir(parents=True, exist_ok=True)
    os.chmod(keys_dir(), 0o700)
    atomic_write(path, pem, mode=0o600)
    return path.resolve().as_uri()


def _keyring_set(username: str, secret: str) -> str | None:
    """Store in the keyring; return why not, or ``None`` on success."""
    import keyring
    import keyring.errors

    try:
        backend = keyring.get_keyring()
        if _is_unusable(backend):
            return "no keyring backend is available"
        keyring.set_password(KEYRING_SERVICE, username, secret)
    except keyring.errors.KeyringError as exc:
        return str(exc) or type(exc).__name__
    return None


def _is_unusable(backend: object) -> bool:
    from keyring.backends import fail

    # The "fail" backend is what keyring picks when nothing else works; a chainer with no
    # backends behind it is the same thing in disguise.
    if isinstance(backend, fail.Keyring):
        return True
    backends = getattr(backend, "backends", None)
    return backends is not None and len(backends) == 0


def stored_keys() -> list[StoredKey]:
    """The keys recorded under ``trust-keys/``, by name."""
    directory = keys_dir()
    if not directory.is_dir():
        return []
    found = []
    for record_path in sorted(directory.glob("*.json")):
        found.append(_read_record(record_path))
    return found


def _read_record(record_path: Path) -> StoredKey:
    try:
        data = json.loads(record_path.read_text(encoding="utf-8"))
        algorithm = data["algorithm"]
        if algorithm not in ALGORITHMS:
            raise ValueError(f"unknown algorithm {algorithm!r}")
        return StoredKey(
            name=str(data["name"]),
            algorithm=algorithm,
            keyid=str(data["keyid"]),
            location=str(data["private_key"]),
            public_key_path=record_path.with_name(str(data["public_key"])),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise TrustKeyError(f"{record_path}: unreadable key record ({exc})") from exc


def load(reference: str) -> SigningKey:
    """The signing key named ``reference``: a key name, or a ``file://`` URI of a PEM key."""
    if reference.startswith("file://"):
        path = _path_from_uri(reference)
        return _from_pem(path.stem, _read_private_file(path), reference)
    check_name(reference)
    record_path = keys_dir() / f"{reference}.json"
    if not record_path.exists():
        raise TrustKeyError(f"no key named '{reference}' (create one with 'nono trust keygen')")
    stored = _read_record(record_path)
    if stored.location == "keyring":
        pem = _keyring_get(keyring_username(reference))
        if pem is None:
            raise TrustKeyError(
                f"key '{reference}' is recorded as kept in the OS keyring, but the keyring "
                "has no such entry"
            )
        key = _from_pem(reference, pem.encode("ascii"), "keyring")
    else:
        path = _path_from_uri(stored.location)
        key = _from_pem(reference, _read_private_file(path), stored.location)
    if key.keyid != stored.keyid:
        raise TrustKeyError(f"key '{reference}' does not match its record (key id changed)")
    return key


def _keyring_get(username: str) -> str | None:
    import keyring
    import keyring.errors

    try:
        return keyring.get_password(KEYRING_SERVICE, username)
    except keyring.errors.KeyringError as exc:
        raise TrustKeyError(f"cannot read the OS keyring: {exc}") from exc


def _path_from_uri(uri: str) -> Path:
    parsed = urlparse(uri)
    if parsed.scheme != "file" or parsed.netloc not in ("", "localhost"):
        raise TrustKeyError(f"not a local file URI: {uri}")
    return Path(unquote(parsed.path))


def _read_private_file(path: Path) -> bytes:
    try:
        info = path.stat()
        data = path.read_bytes()
    except OSError as exc:
        raise TrustKeyError(f"cannot read private key {path}: {exc.strerror}") from exc
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        # Same rule as ssh: a key others can read is not a secret any more.
        raise TrustKeyError(
            f"private key {path} is accessible by other users (mode "
            f"{stat.S_IMODE(info.st_mode):04o}); run 'chmod 600 {path}'"
        )
    return data


def _from_pem(name: str, pem: bytes, origin: str) -> SigningKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise TrustKeyError(f"{origin}: not an unencrypted PEM private key") from exc
    if not isinstance(key, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
        raise TrustKeyError(f"{origin}: unsupported key type; use Ed25519 or ECDSA P-256")
    return SigningKey(name, algorithm_of(key), key)
