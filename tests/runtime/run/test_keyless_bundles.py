"""Keyless-signed bundles: ``nonoc compile --sign sigstore`` and ``nono exec``, offline.

Signing runs the ``sigstore`` package's real client against the local Sigstore-shaped
authority served on 127.0.0.1 (``nonoc.runtime.trust.local_services``); ``nono exec``
verifies the result offline against ``trusted_identities.json`` and that authority's
trusted root, then sandboxes a real child. The Ed25519 path never imports ``sigstore``,
and a keyless bundle verified once is not verified (nor ``sigstore`` imported) again.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from test_run_support import PYTHON, Sandbox, require_landlock

from nonoc.runtime.trust.local_authority import LocalAuthority
from nonoc.runtime.trust.local_services import client_trust_config, serve

ISSUER = "https://ci.example.com"
SIGNER = "https://ci.example.com/org/repo/.github/workflows/compile.yml@refs/heads/main"


def token(identity: str = SIGNER, issuer: str = ISSUER) -> str:
    """An unsigned JWT shaped like an OIDC token (the local Fulcio reads its claims only)."""

    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    now = int(datetime.now(UTC).timestamp())
    claims = {"iss": issuer, "aud": "sigstore", "sub": identity, "iat": now, "exp": now + 600}
    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2ln"


class Keyless:
    """A home, the local authority's services, and a keyless bundle compiled against them."""

    def __init__(self, box: Sandbox, config: Path, root: Path) -> None:
        self.box, self.config, self.root = box, config, root
        self.bundle = box.root / "app.bundle"

    def nonoc(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "nonoc.cli.nonoc", *args],
            env={**self.box.env, "NO_PROXY": "127.0.0.1,localhost"},
            cwd=self.box.work,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def compile(self, identity: str = SIGNER) -> subprocess.CompletedProcess[str]:
        return self.nonoc(
            "compile", str(self.box.profile), "--sign", "sigstore", "--trust-config",
            str(self.config), "--identity-token", token(identity), "-o", str(self.bundle),
        )  # fmt: skip

    def trust(self, *identities: dict[str, str]) -> None:
        path = self.box.home / ".config" / "nono" / "trusted_identities.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        document = {"version": 1, "identities": list(identities), "trusted_root": str(self.root)}
        path.write_text(json.dumps(document))


@pytest.fixture
def keyless(own_sandbox: Sandbox, tmp_path: Path) -> Iterator[Keyless]:
    authority = LocalAuthority()
    root = tmp_path / "trusted_root.json"
    root.write_bytes(authority.trusted_root_json())
    with serve(authority) as url:
        config = tmp_path / "trust_config.json"
        config.write_bytes(client_trust_config(authority, url))
        yield Keyless(own_sandbox, config, root)


def imported_after_verify(box: Sandbox, bundle: Path) -> set[str]:
    """Modules a fresh process imports to verify ``bundle`` (``nono exec``'s first step)."""
    code = (
        "import sys; from nonoc.launch.verify import load_verified; "
        f"load_verified({str(bundle)!r}, defer_provenance=True); print(' '.join(sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=box.env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


@pytest.mark.kernel
def test_a_keyless_bundle_compiles_verifies_and_runs(keyless: Keyless) -> None:
    require_landlock()
    box = keyless.box
    compiled = keyless.compile()
    assert compiled.returncode == 0, compiled.stderr
    assert f"signed keyless as {SIGNER} (issuer {ISSUER})" in compiled.stderr
    document = json.loads(keyless.bundle.read_text())
    assert document["mediaType"].startswith("application/vnd.dev.sigstore.bundle")

    # The payload is the one a keyed compile signs, byte for byte.
    keyed = keyless.nonoc("compile", str(box.profile), "-o", "-")
    envelope = json.loads(keyed.stdout)
    statement = json.loads(base64.b64decode(document["dsseEnvelope"]["payload"]))
    assert statement["predicate"]["payload"] == envelope["payload"]

    untrusted = box.nono("exec", str(keyless.bundle), "--", "/bin/true")
    assert untrusted.returncode == 1
    assert (
        "trusts no keyless signer" in untrusted.stderr
        and "trusted_identities.json" in untrusted.stderr
    )

    keyless.trust({"issuer": ISSUER, "identity_regex": r"https://ci\.example\.com/org/repo/.*"})
    ran = box.nono("exec", str(keyless.bundle), "--", PYTHON, "-I", "-S", "-c", "print('inside')")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "inside"
    secret = box.home / ".config" / "nono" / "trusted_identities.json"
    read = f"open({str(secret)!r})"
    home_read = box.nono("exec", str(keyless.bundle), "--", PYTHON, "-I", "-S", "-c", read)
    assert home_read.returncode == 1 and "PermissionError" in home_read.stderr  # the kernel refuses

    # Verified once: the memo answers; sigstore (and pydantic) are not imported again.
    modules = imported_after_verify(box, keyless.bundle)
    assert "sigstore" not in modules and "pydantic" not in modules

    # Another signer, or a changed byte, is refused.
    keyless.trust({"issuer": ISSUER, "identity": "https://ci.example.com/someone/else"})
    wrong = box.nono("exec", str(keyless.bundle), "--", "/bin/true")
    assert wrong.returncode == 1 and "matches no trusted identity" in wrong.stderr
    keyless.trust({"issuer": ISSUER, "identity": SIGNER})
    tampered = box.root / "tampered.bundle"
    payload = statement["predicate"]["payload"]
    changed = payload[:40] + ("A" if payload[40] != "A" else "B") + payload[41:]
    statement["predicate"]["payload"] = changed
    document["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    tampered.write_text(json.dumps(document))
    refused = box.nono("exec", str(tampered), "--", "/bin/true")
    assert refused.returncode == 1 and "error" in refused.stderr


def test_the_keyed_path_never_imports_sigstore(own_sandbox: Sandbox) -> None:
    bundle = own_sandbox.root / "keyed.bundle"
    keyless = Keyless(own_sandbox, Path("/nonexistent"), Path("/nonexistent"))
    compiled = keyless.nonoc("compile", str(own_sandbox.profile), "-o", str(bundle))
    assert compiled.returncode == 0, compiled.stderr
    for _ in range(2):  # full verification, then the memo
        modules = imported_after_verify(own_sandbox, bundle)
        assert not {"sigstore", "pydantic", "nonoc.launch.keyless"} & modules


def test_keyless_signing_fails_clearly_without_a_network_or_a_token(own_sandbox: Sandbox) -> None:
    keyless = Keyless(own_sandbox, Path("/nonexistent"), Path("/nonexistent"))
    no_token = keyless.nonoc("compile", str(own_sandbox.profile), "--sign", "sigstore")
    assert no_token.returncode == 1 and "needs an OIDC identity token" in no_token.stderr
    started = time.monotonic()
    offline = subprocess.run(
        [sys.executable, "-m", "nonoc.cli.nonoc", "compile", str(own_sandbox.profile), "--sign",
         "sigstore", "--identity-token", token(), "-o", str(own_sandbox.root / "x.bundle")],
        env={**own_sandbox.env, "HTTPS_PROXY": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9"},
        cwd=own_sandbox.work, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert offline.returncode == 1
    assert "keyless signing failed (it needs the network" in offline.stderr
    assert offline.stderr.count("\n") <= 2 and "Traceback" not in offline.stderr
    assert time.monotonic() - started < 60
    assert not (own_sandbox.root / "x.bundle").exists()
    both = keyless.nonoc("compile", str(own_sandbox.profile), "--sign", "sigstore", "--unsigned")
    assert both.returncode == 2 and "contradict" in both.stderr
    stray = keyless.nonoc("compile", str(own_sandbox.profile), "--staging")
    assert stray.returncode == 2 and "go with --sign sigstore" in stray.stderr
