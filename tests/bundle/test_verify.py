"""The launcher's verification: every refusal, the round trip, and the verification memo."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from bundle_helpers import linux_payload, write_bundle

from nonoc.bundle import keys
from nonoc.errors import NonoError
from nonoc.launch import verify


@pytest.fixture
def key() -> keys.SigningKey:
    """The default key, created (and trusted) in the isolated home."""
    return keys.generate_key("default")


def refusal(path: Path, **options: Any) -> NonoError:
    with pytest.raises(NonoError) as caught:
        verify.load_verified(str(path), **options)
    error = caught.value
    assert error.exit_code == 1
    headline = error.diagnostic.headline()
    assert headline.startswith(f"{path}: error: "), headline
    return error


def test_round_trip(tmp_path: Path, key: keys.SigningKey) -> None:
    payload = linux_payload()
    path = write_bundle(tmp_path / "ok.bundle", payload, key)
    assert verify.load_verified(str(path)) == payload
    assert verify.load_verified(str(path), memo=False) == payload


def test_pae_matches_dsse_definition() -> None:
    assert verify.pae("t/x", b"hello") == b"DSSEv1 3 t/x 5 hello"
    assert verify.pae("", b"") == b"DSSEv1 0  0 "


def test_unsigned_is_refused(tmp_path: Path, key: keys.SigningKey) -> None:
    path = write_bundle(tmp_path / "u.bundle", linux_payload(), None)
    assert "bundle is unsigned" in refusal(path).diagnostic.message


def _edit_envelope(path: Path, change: Any) -> None:
    envelope = json.loads(path.read_bytes())
    change(envelope)
    path.write_text(json.dumps(envelope))


def test_changed_payload_byte_is_refused(tmp_path: Path, key: keys.SigningKey) -> None:
    path = write_bundle(tmp_path / "t.bundle", linux_payload(profile="demo"), key)

    def flip(envelope: dict[str, Any]) -> None:
        payload = base64.b64decode(envelope["payload"]).replace(b'"demo"', b'"demp"')
        envelope["payload"] = base64.b64encode(payload).decode()

    _edit_envelope(path, flip)
    message = refusal(path).diagnostic.message
    assert "does not verify" in message and "changed after signing" in message


def test_changed_signature_is_refused(tmp_path: Path, key: keys.SigningKey) -> None:
    path = write_bundle(tmp_path / "s.bundle", linux_payload(), key)

    def flip(envelope: dict[str, Any]) -> None:
        sig = bytearray(base64.b64decode(envelope["signatures"][0]["sig"]))
        sig[10] ^= 0x01
        envelope["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()

    _edit_envelope(path, flip)
    assert "does not verify" in refusal(path).diagnostic.message


def test_untrusted_key_is_refused(tmp_path: Path, key: keys.SigningKey) -> None:
    stranger = keys.generate_key("stranger", file=str(tmp_path / "stranger.pem"))
    (Path(verify.trusted_keys_dir()) / "stranger.pub").unlink()
    path = write_bundle(tmp_path / "x.bundle", linux_payload(), stranger)
    error = refusal(path)
    assert (
        error.diagnostic.message == f"bundle is signed by an untrusted key ({stranger.keyid[:16]})"
    )
    assert any(verify.trusted_keys_dir() in note for note in error.diagnostic.notes)


def test_no_trusted_keys_at_all(tmp_path: Path) -> None:
    signer = keys.generate_key("ci", file=str(tmp_path / "ci.pem"))
    for pub in Path(verify.trusted_keys_dir()).iterdir():
        pub.unlink()
    path = write_bundle(tmp_path / "x.bundle", linux_payload(), signer)
    assert "untrusted key" in refusal(path).diagnostic.message


def test_foreign_target_is_refused(tmp_path: Path, key: keys.SigningKey) -> None:
    path = write_bundle(tmp_path / "m.bundle", linux_payload(targets=["macos"]), key)
    error = refusal(path)
    assert error.diagnostic.message == "bundle is compiled for macos, not linux"
    assert error.diagnostic.notes == ("recompile it with --target linux",)


def test_foreign_arch_is_refused(tmp_path: Path, key: keys.SigningKey) -> None:
    other = "aarch64" if verify.native_arch() != "aarch64" else "x86_64"
    path = write_bundle(tmp_path / "a.bundle", linux_payload(arch=other), key)
    message = refusal(path).diagnostic.message
    assert message == f"bundle is compiled for {other}, this machine is {verify.native_arch()}"


def test_any_arch_is_accepted(tmp_path: Path, key: keys.SigningKey) -> None:
    path = write_bundle(tmp_path / "a.bundle", linux_payload(arch="any"), key)
    assert verify.load_verified(str(path))["manifest"]["arch"] == "any"


def test_malformed_json_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.bundle"
    path.write_text('{"payload": "abc", ')
    assert refusal(path).diagnostic.message.startswith("not a nono bundle: malformed JSON (")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[]", "the envelope is not a JSON object"),
        (
            '{"payloadType": "application/vnd.nono.bundle+json", "payload": 3}',
            "'payload' must be a string",
        ),
        (
            '{"payloadType": "application/vnd.nono.bundle+json", "payload": "!!"}',
            "not valid base64",
        ),
        (
            '{"payloadType": "application/vnd.nono.bundle+json", "payload": "", "signatures": [1]}',
            "needs a 'sig'",
        ),
        (
            '{"payloadType": "application/vnd.nono.bundle+json", "payload": "", "signatures": [{"sig": "", "keyid": []}]}',
            "a 'keyid' string",
        ),
    ],
)
def test_malformed_envelopes_are_refused(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bad.bundle"
    path.write_text(text)
    assert expected in refusal(path).diagnostic.message


def test_wrong_payload_type_is_refused(tmp_path: Path, key: keys.SigningKey) -> None:
    path = write_bundle(tmp_path / "w.bundle", linux_payload(), key)
    _edit_envelope(
        path, lambda envelope: envelope.update(payloadType="application/vnd.in-toto+json")
    )
    message = refusal(path).diagnostic.message
    assert message == (
        "not a nono bundle: payloadType is 'application/vnd.in-toto+json', "
        "expected 'application/vnd.nono.bundle+json'"
    )


def test_signed_payload_that_is_not_a_bundle(tmp_path: Path, key: keys.SigningKey) -> None:
    path = write_bundle(tmp_path / "f.bundle", {"format": "nono-bundle/99", "manifest": {}}, key)
    assert "unsupported bundle format 'nono-bundle/99'" in refusal(path).diagnostic.message
    path = write_bundle(tmp_path / "g.bundle", {"format": "nono-bundle/1"}, key)
    assert "no manifest" in refusal(path).diagnostic.message


def test_missing_file(tmp_path: Path) -> None:
    assert "cannot read bundle" in refusal(tmp_path / "absent.bundle").diagnostic.message


# --------------------------------------------------------------------------- memo


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Count full signature checks."""
    calls: list[str] = []
    real = verify.verify_signatures

    def counting(*args: Any) -> str:
        calls.append(args[0])
        return real(*args)

    monkeypatch.setattr(verify, "verify_signatures", counting)
    return calls


def test_memo_skips_the_second_full_check(
    tmp_path: Path, key: keys.SigningKey, counted: list[str]
) -> None:
    path = write_bundle(tmp_path / "ok.bundle", linux_payload(), key)
    verify.load_verified(str(path))
    verify.load_verified(str(path))
    assert len(counted) == 1
    secret = Path(verify.config_dir()) / "local-secret"
    assert secret.stat().st_mode & 0o777 == 0o600


def test_memo_is_void_when_trusted_keys_change(
    tmp_path: Path, key: keys.SigningKey, counted: list[str]
) -> None:
    path = write_bundle(tmp_path / "ok.bundle", linux_payload(), key)
    verify.load_verified(str(path))
    keys.trust_public_key("another", os.urandom(32))
    verify.load_verified(str(path))
    assert len(counted) == 2


def test_memo_does_not_survive_revoking_the_signer(tmp_path: Path, key: keys.SigningKey) -> None:
    path = write_bundle(tmp_path / "ok.bundle", linux_payload(), key)
    verify.load_verified(str(path))
    (Path(verify.trusted_keys_dir()) / "default.pub").unlink()
    assert "untrusted key" in refusal(path).diagnostic.message


def test_memo_is_per_byte(tmp_path: Path, key: keys.SigningKey, counted: list[str]) -> None:
    first = write_bundle(tmp_path / "a.bundle", linux_payload(profile="a"), key)
    second = write_bundle(tmp_path / "b.bundle", linux_payload(profile="b"), key)
    verify.load_verified(str(first))
    verify.load_verified(str(second))
    assert len(counted) == 2


def test_forged_memo_is_ignored(tmp_path: Path, key: keys.SigningKey) -> None:
    stranger = keys.generate_key("stranger", file=str(tmp_path / "s.pem"))
    (Path(verify.trusted_keys_dir()) / "stranger.pub").unlink()
    good = write_bundle(tmp_path / "good.bundle", linux_payload(), key)
    verify.load_verified(str(good))  # creates the secret and a genuine memo
    evil = write_bundle(tmp_path / "evil.bundle", linux_payload(profile="evil"), stranger)
    digest = verify.digest(evil.read_bytes())
    memo_dir = Path(verify.cache_dir()) / "verified"
    # Whoever can write the cache can copy a genuine memo, or guess: neither verifies.
    genuine = next(memo_dir.iterdir()).read_bytes()
    (memo_dir / digest).write_bytes(genuine)
    assert "untrusted key" in refusal(evil).diagnostic.message


def test_secret_readable_by_others_is_not_used(
    tmp_path: Path, key: keys.SigningKey, counted: list[str]
) -> None:
    path = write_bundle(tmp_path / "ok.bundle", linux_payload(), key)
    verify.load_verified(str(path))
    secret = Path(verify.config_dir()) / "local-secret"
    secret.chmod(0o644)
    verify.load_verified(str(path))
    verify.load_verified(str(path))
    assert len(counted) == 3


def test_unwritable_cache_still_verifies(
    tmp_path: Path, key: keys.SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    path = write_bundle(tmp_path / "ok.bundle", linux_payload(), key)
    assert verify.load_verified(str(path))["format"] == "nono-bundle/1"


def _imports_after_load(path: Path) -> set[str]:
    code = (
        "import sys; from nonoc.launch.verify import load_verified; "
        f"load_verified({str(path)!r}); "
        "print(','.join(m for m in ('cryptography', 'hashlib', 'hmac', 'typing', 'base64', 'pydantic', 'lark', 'jinja2', 'nonoc.bundle', 'nonoc.ir', 'nonoc.errors') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return set(filter(None, out.strip().split(",")))


def test_fast_path_imports_no_cryptography(tmp_path: Path, key: keys.SigningKey) -> None:
    path = write_bundle(tmp_path / "ok.bundle", linux_payload(), key)
    first = _imports_after_load(path)  # first exec: full verification
    assert "cryptography" in first and not first & {
        "pydantic",
        "lark",
        "jinja2",
        "nonoc.bundle",
        "nonoc.ir",
    }
    assert _imports_after_load(path) == set()  # then: the memo, a keyed BLAKE2b, nothing else


def test_signature_without_keyid_is_tried_against_every_trusted_key(
    tmp_path: Path, key: keys.SigningKey
) -> None:
    path = write_bundle(tmp_path / "k.bundle", linux_payload(), key)
    _edit_envelope(path, lambda envelope: envelope["signatures"][0].pop("keyid"))
    assert verify.load_verified(str(path))["manifest"]["profile"] == "demo"


def test_one_trusted_signature_among_others_suffices(tmp_path: Path, key: keys.SigningKey) -> None:
    stranger = keys.generate_key("stranger", file=str(tmp_path / "s.pem"))
    (Path(verify.trusted_keys_dir()) / "stranger.pub").unlink()
    theirs = json.loads(write_bundle(tmp_path / "a.bundle", linux_payload(), stranger).read_bytes())
    path = write_bundle(tmp_path / "b.bundle", linux_payload(), key)
    _edit_envelope(path, lambda envelope: envelope["signatures"].insert(0, theirs["signatures"][0]))
    assert verify.load_verified(str(path), memo=False)["format"] == "nono-bundle/1"
