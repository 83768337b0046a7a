"""Signing keys: keyring first, a 0600 file where no keyring works, trust on this machine."""

from __future__ import annotations

import argparse
import stat
from pathlib import Path

import pytest
from bundle_helpers import MemoryKeyring

from nonoc.bundle import keys
from nonoc.errors import NonoError
from nonoc.launch import verify

#: The real keyring detection, captured before the fixtures replace it.
REAL_USABLE_KEYRING = keys._usable_keyring


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_fallback_to_file_without_keyring(isolated_home: Path) -> None:
    key = keys.generate_key("default")
    pem = isolated_home / ".config/nono/keys/default.pem"
    assert key.storage == str(pem)
    assert mode(pem) == 0o600
    assert mode(pem.parent) == 0o700
    assert pem.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    trusted = isolated_home / ".config/nono/trusted_keys/default.pub"
    assert keys.public_raw_from_file(trusted) == key.public_raw
    assert verify.keyid_of(key.public_raw) == key.keyid


def test_fallback_tightens_an_existing_keys_directory(isolated_home: Path) -> None:
    folder = isolated_home / ".config/nono/keys"
    folder.mkdir(parents=True, mode=0o755)
    folder.chmod(0o755)
    keys.generate_key("default")
    assert mode(folder) == 0o700


def test_fallback_file_ignores_umask(isolated_home: Path) -> None:
    import os

    old = os.umask(0)
    try:
        keys.generate_key("loose")
    finally:
        os.umask(old)
    assert mode(isolated_home / ".config/nono/keys/loose.pem") == 0o600


def test_keyring_is_preferred(isolated_home: Path, memory_keyring: MemoryKeyring) -> None:
    key = keys.generate_key("work")
    assert key.storage == "keyring"
    stored = memory_keyring.store[("nono", "signing-key:work")]
    assert stored.encode() == key.private_pem
    assert not (isolated_home / ".config/nono/keys/work.pem").exists()
    assert (isolated_home / ".config/nono/keys/work.pub").exists()
    assert keys.load_key("work").public_raw == key.public_raw


def test_keyring_that_fails_falls_back(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Broken(MemoryKeyring):
        def set_password(self, service: str, username: str, password: str) -> None:
            raise RuntimeError("org.freedesktop.DBus.Error.ServiceUnknown")

    monkeypatch.setattr(keys, "_usable_keyring", lambda: Broken())
    key = keys.generate_key("default")
    assert key.storage.endswith("keys/default.pem")


def test_keyring_that_drops_writes_falls_back(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Forgetful(MemoryKeyring):
        def set_password(self, service: str, username: str, password: str) -> None:
            pass

    monkeypatch.setattr(keys, "_usable_keyring", lambda: Forgetful())
    assert keys.generate_key("default").storage.endswith("keys/default.pem")


def test_fail_backend_counts_as_no_keyring() -> None:
    import keyring
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        assert REAL_USABLE_KEYRING() is None
    finally:
        keyring.set_keyring(previous)


def test_existing_key_is_kept() -> None:
    keys.generate_key("default")
    with pytest.raises(NonoError, match="already exists"):
        keys.generate_key("default")
    replaced = keys.generate_key("default", force=True)
    assert keys.load_key("default").keyid == replaced.keyid


def test_ensure_default_key_creates_once() -> None:
    first, created = keys.ensure_key("default")
    assert created
    again, created_again = keys.ensure_key("default")
    assert not created_again and again.keyid == first.keyid


def test_missing_named_key_is_an_error() -> None:
    with pytest.raises(NonoError) as caught:
        keys.ensure_key("release")
    assert caught.value.diagnostic.message == "no signing key named 'release'"
    assert caught.value.diagnostic.notes == ("create it with: nonoc keygen --name release",)


def test_key_by_path(tmp_path: Path) -> None:
    path = tmp_path / "ci.pem"
    made = keys.generate_key("ci", file=str(path))
    assert mode(path) == 0o600
    assert keys.is_key_path(str(path)) and keys.is_key_path("ci.pem") and not keys.is_key_path("ci")
    assert keys.load_key(str(path)).keyid == made.keyid
    assert keys.key_fingerprint(str(path)) is not None


def test_bad_names_are_refused() -> None:
    for bad in ("../x", "", ".hidden", "a b"):
        with pytest.raises(NonoError):
            keys.check_name(bad)


def test_signatures_are_deterministic() -> None:
    key = keys.generate_key("default")
    assert key.sign(b"message") == key.sign(b"message")


def test_fingerprint_follows_the_public_half() -> None:
    assert keys.key_fingerprint("default") is None
    keys.generate_key("default")
    before = keys.key_fingerprint("default")
    keys.generate_key("default", force=True)
    assert keys.key_fingerprint("default") not in (None, before)


def test_keygen_command_says_where(isolated_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from nonoc.cli import keygen_cmd

    parser = argparse.ArgumentParser()
    keygen_cmd.add_arguments(parser)
    assert keygen_cmd.run(parser.parse_args([])) == 0
    out = capsys.readouterr().out
    assert "created signing key 'default' (ed25519, id " in out
    assert "no usable OS keyring" in out
    assert str(isolated_home / ".config/nono/trusted_keys/default.pub") in out


def test_keygen_command_through_nonoc(
    isolated_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from nonoc.cli.nonoc import main

    assert main(["keygen", "--file", str(tmp_path / "release.pem")]) == 0
    assert "trusted_keys/release.pub" in capsys.readouterr().out
    assert main(["keygen", "--file", str(tmp_path / "release.pem")]) == 1
    assert "already exists" in capsys.readouterr().err
