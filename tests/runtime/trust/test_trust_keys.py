"""Trust keys: the OS keyring (an in-memory backend here), the 0600 file fallback, loading."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from trust_helpers import MemoryKeyring

from nonoc.runtime.trust import keys
from nonoc.runtime.trust.keys import TrustKeyError


@pytest.mark.parametrize("algorithm", ["ed25519", "p256"])
def test_keygen_stores_the_private_key_in_the_keyring(
    memory_keyring: MemoryKeyring, isolated_home: Path, algorithm: str
) -> None:
    stored = keys.create("alice", algorithm)  # type: ignore[arg-type]
    assert stored.location == "keyring"
    pem = memory_keyring.store[("nono", "trust-key:alice")]
    assert pem.startswith("-----BEGIN PRIVATE KEY-----")
    directory = isolated_home / ".config" / "nono" / "trust-keys"
    assert not (directory / "alice.key").exists(), "no private key on disk when the keyring works"
    assert (directory / "alice.pub").read_text().startswith("-----BEGIN PUBLIC KEY-----")
    record = json.loads((directory / "alice.json").read_text())
    assert record == {
        "algorithm": algorithm,
        "keyid": stored.keyid,
        "name": "alice",
        "private_key": "keyring",
        "public_key": "alice.pub",
    }
    loaded = keys.load("alice")
    assert loaded.keyid == stored.keyid
    assert loaded.algorithm == algorithm


def test_without_a_keyring_the_key_goes_to_a_0600_file(isolated_home: Path) -> None:
    stored = keys.create("ci", "p256")
    directory = isolated_home / ".config" / "nono" / "trust-keys"
    key_file = directory / "ci.key"
    assert stored.location == key_file.resolve().as_uri()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert keys.load("ci").keyid == stored.keyid
    assert keys.load(stored.location).keyid == stored.keyid, "file:// URIs name keys too"


def test_store_keyring_refuses_when_no_keyring_works() -> None:
    with pytest.raises(TrustKeyError, match="cannot store key 'x' in the OS keyring"):
        keys.create("x", "ed25519", store="keyring")


def test_store_file_skips_the_keyring(memory_keyring: MemoryKeyring) -> None:
    stored = keys.create("f", "ed25519", store="file")
    assert stored.location.startswith("file://")
    assert memory_keyring.store == {}


def test_a_key_is_never_overwritten(memory_keyring: MemoryKeyring) -> None:
    keys.create("alice", "ed25519")
    with pytest.raises(TrustKeyError, match="a key named 'alice' already exists"):
        keys.create("alice", "ed25519")


def test_a_key_file_others_can_read_is_refused(isolated_home: Path) -> None:
    stored = keys.create("loose", "ed25519", store="file")
    key_file = isolated_home / ".config" / "nono" / "trust-keys" / "loose.key"
    os.chmod(key_file, 0o644)
    with pytest.raises(TrustKeyError, match=r"accessible by other users \(mode 0644\)"):
        keys.load(stored.name)


@pytest.mark.parametrize("name", ["", "../x", "a/b", "-x", "x" * 65])
def test_bad_key_names_are_refused(name: str) -> None:
    with pytest.raises(TrustKeyError, match="invalid key name"):
        keys.create(name, "ed25519")


def test_unknown_key_name() -> None:
    with pytest.raises(TrustKeyError, match="no key named 'nobody'"):
        keys.load("nobody")


def test_a_keyring_entry_that_vanished(memory_keyring: MemoryKeyring) -> None:
    keys.create("gone", "ed25519")
    memory_keyring.store.clear()
    with pytest.raises(TrustKeyError, match="the keyring has no such entry"):
        keys.load("gone")


def test_other_key_types_are_refused(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path = tmp_path / "p384.pem"
    path.write_bytes(pem)
    path.chmod(0o600)
    with pytest.raises(TrustKeyError, match="ECDSA keys must use P-256"):
        keys.load(path.as_uri())


def test_stored_keys_lists_by_name(memory_keyring: MemoryKeyring) -> None:
    keys.create("b", "ed25519")
    keys.create("a", "p256")
    assert [(k.name, k.algorithm) for k in keys.stored_keys()] == [("a", "p256"), ("b", "ed25519")]
