"""Keyless signing through the ``sigstore`` package's real client, against local services.

``local_services.serve`` runs Fulcio- and Rekor-like endpoints of a ``LocalAuthority`` on
127.0.0.1, so the whole keyless path runs offline: identity token → CSR → certificate with
SCT (checked by the client) → DSSE envelope → Rekor entry → bundle, then our offline
verification and enforcement. Only the services are local; the client code is sigstore's.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from trust_helpers import fake_token, keyless_policy

from nonoc.cli.nono import main
from nonoc.runtime.trust.enforce import enforce
from nonoc.runtime.trust.local_authority import LocalAuthority
from nonoc.runtime.trust.local_services import client_trust_config, serve
from nonoc.runtime.trust.policy import IdentityRule

ISSUER = "https://accounts.example.com"
EMAIL = "dev@example.com"


@pytest.fixture
def services(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    authority = LocalAuthority()
    root = tmp_path / "trusted_root.json"
    root.write_bytes(authority.trusted_root_json())
    with serve(authority) as url:
        config = tmp_path / "trust_config.json"
        config.write_bytes(client_trust_config(authority, url))
        yield config, root


def test_keyless_sign_and_verify_end_to_end(
    work: Path, services: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config, root = services
    (work / "CLAUDE.md").write_text("Prefer small commits.\n")
    (work / "run.sh").write_text("make test\n")
    code = main(
        [
            "trust",
            "sign",
            "--keyless",
            "--trust-config",
            str(config),
            "--identity-token",
            fake_token(EMAIL, ISSUER),
            "CLAUDE.md",
            "run.sh",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.splitlines() == [
        "signed CLAUDE.md -> CLAUDE.md.sigstore.json",
        "signed run.sh -> run.sh.sigstore.json",
    ]
    bundle = json.loads((work / "CLAUDE.md.sigstore.json").read_text())
    assert bundle["mediaType"] == "application/vnd.dev.sigstore.bundle.v0.3+json"
    assert bundle["verificationMaterial"]["tlogEntries"][0]["kindVersion"]["kind"] == "dsse"

    policy_file = work.parent / "policy.json"
    policy_file.write_text(
        json.dumps(
            {
                "on_failure": "deny",
                "trusted_root": str(root),
                "identities": [{"issuer": ISSUER, "identity": EMAIL}],
            }
        )
    )
    code = main(["trust", "verify", "--policy", str(policy_file), "CLAUDE.md", "run.sh"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.startswith(f"ok: CLAUDE.md: signed by {EMAIL} (issuer {ISSUER})")

    report = enforce(
        work, keyless_policy(root, IdentityRule(ISSUER, identity=EMAIL), on_failure="deny")
    )
    assert [v.kind for v in report.verified] == ["keyless"]


def test_keyless_signature_by_another_identity_is_refused_at_start(
    work: Path, services: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    from nonoc.runtime.trust.enforce import TrustDenied

    config, root = services
    (work / "AGENTS.md").write_text("x\n")
    assert (
        main(
            [
                "trust",
                "sign",
                "--keyless",
                "--trust-config",
                str(config),
                "--identity-token",
                fake_token("someone@else.org", ISSUER),
                "AGENTS.md",
            ]
        )
        == 0
    )
    capsys.readouterr()
    with pytest.raises(
        TrustDenied, match=r"^AGENTS.md: signed by someone@else.org .* matches no trusted identity"
    ):
        enforce(work, keyless_policy(root, IdentityRule(ISSUER, identity=EMAIL), on_failure="deny"))
