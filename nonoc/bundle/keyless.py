"""Keyless bundle signing (``nonoc compile --sign sigstore``): Sigstore instead of a key.

The compiled envelope's canonical payload is wrapped in an in-toto statement and signed
through Sigstore (OIDC identity token → Fulcio certificate → Rekor entry) by
``nonoc.runtime.trust.bundle_statement.sign_bundle_payload``; the bundle file is the
Sigstore bundle JSON, which ``nono exec`` verifies offline against the identities the user
trusts (``nonoc.launch.keyless``). The payload stays byte-identical to a keyed bundle's;
the Sigstore bundle around it differs on every signing (a fresh key and certificate).

Signing needs the network (Sigstore's TUF repository, Fulcio, Rekor) and an identity
token; without either it fails at once with one line saying which (``KeylessError``,
exit 1). ``trust_config`` (a Sigstore client trust config) points it at another instance,
such as the local authority of ``nonoc.runtime.trust.local_services`` in tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nonoc.launch.verify import parse_envelope


@dataclass(frozen=True)
class KeylessBundle:
    """A keyless-signed bundle: its bytes, and the identity Fulcio certified."""

    data: bytes
    identity: str
    issuer: str


def sign_keyless(
    envelope: bytes,
    *,
    identity_token: str | None = None,
    trust_config: Path | None = None,
    staging: bool = False,
) -> KeylessBundle:
    """Sign the payload of a compiled (unsigned) envelope through Sigstore."""
    from nonoc.runtime.trust.bundle_statement import wrap_bundle_payload
    from nonoc.runtime.trust.keyless import identity_token as find_token
    from nonoc.runtime.trust.keyless import sign_statements, token_identity

    payload, _ = parse_envelope("<compiled bundle>", envelope)
    token = find_token(identity_token)
    identity, issuer = token_identity(token)
    (signed,) = sign_statements(
        [wrap_bundle_payload(payload)], token, trust_config=trust_config, staging=staging
    )
    return KeylessBundle(signed, identity, issuer)
