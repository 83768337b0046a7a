"""Keyless (Sigstore) bundles, verified offline against a trusted root given as a file.

The ``sigstore`` package ships no test bundles, so the bundles here come from
``LocalAuthority``: a CA with a Fulcio-like leaf (OIDC issuer extensions, embedded SCT),
a CT log and a Rekor-like log (``dsse`` entries, inclusion proof, signed checkpoint,
signed entry timestamp), all with keys of its own. ``sigstore``'s own verifier runs every
check on them; only the root of trust is local. Keyless *signing* needs the network and
is only checked to fail cleanly here.
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from trust_helpers import NOW, days, fake_token, keyless_policy, make_key, policy_trusting

from nonoc.runtime.trust.keyless import KeylessError, verify_sigstore_envelope
from nonoc.runtime.trust.local_authority import LocalAuthority
from nonoc.runtime.trust.policy import IdentityRule, TrustPolicy
from nonoc.runtime.trust.sign import KeylessSigning, sign_files
from nonoc.runtime.trust.statement import Signer, build_statement
from nonoc.runtime.trust.verify import TrustFailure, verify_file

ISSUER = "https://accounts.example.com"
EMAIL = "maintainer@example.com"
GITHUB = "https://token.actions.githubusercontent.com"
WORKFLOW = "https://github.com/acme/agent-rules/.github/workflows/sign.yml@refs/heads/main"


@pytest.fixture
def authority() -> LocalAuthority:
    return LocalAuthority(now=NOW)


@pytest.fixture
def root_file(authority: LocalAuthority, tmp_path: Path) -> Path:
    path = tmp_path / "trusted_root.json"
    path.write_bytes(authority.trusted_root_json())
    return path


def keyless_sign(
    authority: LocalAuthority,
    path: Path,
    *,
    identity: str = EMAIL,
    issuer: str = ISSUER,
    san: str = "email",
) -> Path:
    """Sign ``path`` the way a keyless signer would, through the local authority."""
    statement = build_statement(
        name=path.name,
        content=path.read_bytes(),
        signer=Signer("keyless", identity=identity, issuer=issuer),
        signed_at=NOW,
        policy_sha256="0" * 64,
        policy_source="test",
        tool="test",
    )
    bundle = authority.sign_dsse(statement, identity=identity, issuer=issuer, at=NOW, san=san)  # type: ignore[arg-type]
    out = path.with_name(path.name + ".sigstore.json")
    out.write_bytes(bundle)
    return out


def refused(path: Path, policy) -> TrustFailure:  # type: ignore[no-untyped-def]
    with pytest.raises(TrustFailure) as caught:
        verify_file(path, policy, now=NOW + days(1), display=path.name)
    assert "\n" not in caught.value.render()
    return caught.value


def test_keyless_round_trip_offline(work: Path, authority: LocalAuthority, root_file: Path) -> None:
    doc = work / "CLAUDE.md"
    doc.write_text("Use the project's formatter.\n")
    keyless_sign(authority, doc)
    policy = keyless_policy(root_file, IdentityRule(ISSUER, identity=EMAIL))
    result = verify_file(doc, policy, now=NOW + days(1))
    assert result.kind == "keyless"
    assert result.signer == Signer("keyless", identity=EMAIL, issuer=ISSUER)
    assert result.trusted_as == f"{EMAIL} (issuer {ISSUER})"


def test_a_repository_workflow_identity_by_regex(
    work: Path, authority: LocalAuthority, root_file: Path
) -> None:
    doc = work / "AGENTS.md"
    doc.write_text("rules\n")
    keyless_sign(authority, doc, identity=WORKFLOW, issuer=GITHUB, san="uri")
    rule = IdentityRule(
        GITHUB, identity_regex=r"https://github\.com/acme/agent-rules/\.github/workflows/.*"
    )
    result = verify_file(doc, keyless_policy(root_file, rule), now=NOW)
    assert result.signer.identity == WORKFLOW


def test_a_wrong_identity_is_refused(
    work: Path, authority: LocalAuthority, root_file: Path
) -> None:
    doc = work / "CLAUDE.md"
    doc.write_text("x\n")
    keyless_sign(authority, doc, identity="intruder@example.com")
    failure = refused(doc, keyless_policy(root_file, IdentityRule(ISSUER, identity=EMAIL)))
    assert failure.reason == "untrusted-identity"
    assert failure.render() == (
        f"error: CLAUDE.md: signed by intruder@example.com (issuer {ISSUER}), which matches no "
        "trusted identity"
    )


def test_the_right_identity_from_the_wrong_issuer_is_refused(
    work: Path, authority: LocalAuthority, root_file: Path
) -> None:
    doc = work / "CLAUDE.md"
    doc.write_text("x\n")
    keyless_sign(authority, doc, issuer="https://evil-idp.example")
    failure = refused(doc, keyless_policy(root_file, IdentityRule(ISSUER, identity=EMAIL)))
    assert failure.reason == "untrusted-identity"


def test_another_authoritys_root_is_refused(
    work: Path, authority: LocalAuthority, tmp_path: Path
) -> None:
    doc = work / "CLAUDE.md"
    doc.write_text("x\n")
    keyless_sign(authority, doc)
    other = tmp_path / "other_root.json"
    other.write_bytes(LocalAuthority(now=NOW).trusted_root_json())
    failure = refused(doc, keyless_policy(other, IdentityRule(ISSUER, identity=EMAIL)))
    assert failure.reason == "invalid"
    assert "keyless signature does not verify" in failure.detail
    assert "certificate chain" in failure.detail


def test_an_sct_from_an_untrusted_ct_log_is_refused(
    work: Path, authority: LocalAuthority, tmp_path: Path
) -> None:
    doc = work / "CLAUDE.md"
    doc.write_text("x\n")
    keyless_sign(authority, doc)
    authority.ct_key = ec.generate_private_key(ec.SECP256R1())  # the root now names another CT log
    root = tmp_path / "root_other_ct.json"
    root.write_bytes(authority.trusted_root_json())
    failure = refused(doc, keyless_policy(root, IdentityRule(ISSUER, identity=EMAIL)))
    assert failure.reason == "invalid"
    assert "SCT" in failure.detail


def test_an_untrusted_transparency_log_is_refused(
    work: Path, authority: LocalAuthority, tmp_path: Path
) -> None:
    doc = work / "CLAUDE.md"
    doc.write_text("x\n")
    keyless_sign(authority, doc)
    authority.rekor_key = ec.generate_private_key(ec.SECP256R1())
    root = tmp_path / "root_other_log.json"
    root.write_bytes(authority.trusted_root_json())
    failure = refused(doc, keyless_policy(root, IdentityRule(ISSUER, identity=EMAIL)))
    assert failure.reason == "invalid"
    assert "log entry" in failure.detail


@pytest.mark.parametrize("part", ["checkpoint", "integrated-time", "proof", "payload"])
def test_tampered_bundles_are_refused(
    work: Path, authority: LocalAuthority, root_file: Path, part: str
) -> None:
    doc = work / "CLAUDE.md"
    doc.write_text("x\n")
    signature = keyless_sign(authority, doc)
    bundle = json.loads(signature.read_bytes())
    entry = bundle["verificationMaterial"]["tlogEntries"][0]
    if part == "checkpoint":
        note = entry["inclusionProof"]["checkpoint"]["envelope"]
        entry["inclusionProof"]["checkpoint"]["envelope"] = note.replace("\n4\n", "\n5\n", 1)
    elif part == "integrated-time":
        entry["integratedTime"] = str(int(entry["integratedTime"]) - 3600)
    elif part == "proof":
        entry["inclusionProof"]["hashes"].reverse()
    else:
        payload = base64.b64decode(bundle["dsseEnvelope"]["payload"]).replace(b"CLAUDE", b"CLAUDX")
        bundle["dsseEnvelope"]["payload"] = base64.b64encode(payload).decode()
    signature.write_text(json.dumps(bundle))
    failure = refused(doc, keyless_policy(root_file, IdentityRule(ISSUER, identity=EMAIL)))
    assert failure.reason == "invalid"


def test_a_changed_byte_is_refused_under_keyless_too(
    work: Path, authority: LocalAuthority, root_file: Path
) -> None:
    doc = work / "CLAUDE.md"
    doc.write_text("Keep secrets out of logs.\n")
    keyless_sign(authority, doc)
    doc.write_text("Keep secrets out of logz.\n")
    failure = refused(doc, keyless_policy(root_file, IdentityRule(ISSUER, identity=EMAIL)))
    assert failure.reason == "digest-mismatch"


def test_keyless_without_a_trusted_root_says_how_to_fix_it(
    work: Path, authority: LocalAuthority
) -> None:
    doc = work / "CLAUDE.md"
    doc.write_text("x\n")
    keyless_sign(authority, doc)
    failure = refused(doc, TrustPolicy(identities=(IdentityRule(ISSUER, EMAIL),)))
    assert failure.reason == "no-trusted-root"
    assert 'set "trusted_root" in the trust policy' in failure.detail


def test_keyless_when_the_policy_trusts_only_keys(
    work: Path, authority: LocalAuthority, root_file: Path
) -> None:
    doc = work / "CLAUDE.md"
    doc.write_text("x\n")
    keyless_sign(authority, doc)
    failure = refused(doc, policy_trusting(make_key(), trusted_root=str(root_file)))
    assert failure.reason == "untrusted-identity"
    assert "trusts no identities" in failure.detail


def test_the_shipped_production_root_loads_offline_and_refuses_a_local_bundle(
    work: Path, authority: LocalAuthority
) -> None:
    doc = work / "CLAUDE.md"
    doc.write_text("x\n")
    keyless_sign(authority, doc)
    policy = TrustPolicy(
        identities=(IdentityRule(ISSUER, EMAIL),), trusted_root="sigstore-production"
    )
    failure = refused(doc, policy)
    assert failure.reason == "invalid"


def test_verify_sigstore_envelope_returns_the_payload(
    authority: LocalAuthority, root_file: Path
) -> None:
    statement = build_statement(
        name="app.bundle",
        content=b"payload",
        signer=Signer("keyless", identity=EMAIL, issuer=ISSUER),
        signed_at=NOW,
        policy_sha256="0" * 64,
        policy_source="test",
        tool="test",
    )
    bundle = authority.sign_dsse(statement, identity=EMAIL, issuer=ISSUER)
    result = verify_sigstore_envelope(bundle, [IdentityRule(ISSUER, identity=EMAIL)], root_file)
    assert result.payload == statement
    assert result.payload_type == "application/vnd.in-toto+json"
    assert (result.identity, result.issuer) == (EMAIL, ISSUER)
    with pytest.raises(KeylessError, match="matches no trusted identity"):
        verify_sigstore_envelope(bundle, [IdentityRule(ISSUER, identity="x@y.z")], root_file)


def test_keyless_signing_without_a_token_fails_in_one_line(
    work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("GITHUB_ACTIONS", "ACTIONS_ID_TOKEN_REQUEST_URL", "GOOGLE_SERVICE_ACCOUNT_NAME"):
        monkeypatch.delenv(name, raising=False)
    doc = work / "CLAUDE.md"
    doc.write_text("x\n")
    with pytest.raises(KeylessError) as caught:
        sign_files([doc], policy_trusting(), keyless=KeylessSigning())
    assert caught.value.reason == "no-identity"
    assert "\n" not in caught.value.render()
    assert not (work / "CLAUDE.md.sigstore.json").exists()


def test_keyless_signing_offline_fails_in_one_line(work: Path) -> None:
    """No network here: the TUF refresh (or Fulcio) cannot be reached. Untested online."""
    doc = work / "CLAUDE.md"
    doc.write_text("x\n")
    started = time.monotonic()
    with pytest.raises(KeylessError) as caught:
        sign_files([doc], policy_trusting(), keyless=KeylessSigning(token=fake_token()))
    assert time.monotonic() - started < 30
    assert caught.value.reason == "offline"
    rendered = caught.value.render()
    assert rendered.startswith("error: keyless signing failed (it needs the network")
    assert "\n" not in rendered
    assert not (work / "CLAUDE.md.sigstore.json").exists()


def test_a_keyless_nono_bundle_round_trip(authority: LocalAuthority, root_file: Path) -> None:
    from nonoc.runtime.trust.bundle_statement import verify_bundle_payload, wrap_bundle_payload

    payload = b'{"format":"nono-bundle/1"}'
    rule = IdentityRule(GITHUB, identity=WORKFLOW)
    signed = authority.sign_dsse(
        wrap_bundle_payload(payload), identity=WORKFLOW, issuer=GITHUB, san="uri"
    )
    assert verify_bundle_payload(signed, [rule], root_file) == payload
    with pytest.raises(KeylessError, match="matches no trusted identity"):
        verify_bundle_payload(signed, [IdentityRule(GITHUB, identity=WORKFLOW + "x")], root_file)


def test_a_bundle_statement_whose_payload_differs_from_its_subject_is_refused() -> None:
    from nonoc.runtime.trust.bundle_statement import unwrap_bundle_payload, wrap_bundle_payload

    statement = json.loads(wrap_bundle_payload(b"real"))
    statement["predicate"]["payload"] = base64.b64encode(b"swapped").decode()
    with pytest.raises(KeylessError, match="does not match the signed digest"):
        unwrap_bundle_payload(json.dumps(statement).encode())


def test_inclusion_proofs_hold_for_many_tree_shapes(
    authority: LocalAuthority, root_file: Path
) -> None:
    """Entries at indices 3..10 (trees of 4..11 leaves): every proof shape sigstore checks."""
    rules = [IdentityRule(ISSUER, identity=EMAIL)]
    for n in range(8):
        statement = build_statement(
            name=f"f{n}",
            content=bytes([n]),
            signer=Signer("keyless", identity=EMAIL, issuer=ISSUER),
            signed_at=NOW,
            policy_sha256="0" * 64,
            policy_source="test",
            tool="test",
        )
        bundle = authority.sign_dsse(statement, identity=EMAIL, issuer=ISSUER)
        assert verify_sigstore_envelope(bundle, rules, root_file).payload == statement
