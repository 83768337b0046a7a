"""Keyless signatures: Sigstore (OIDC → Fulcio certificate → Rekor entry) via ``sigstore``.

Verification is offline: the caller names a trusted root (a ``trusted_root.json`` file, or
the Sigstore production/staging root that ships with the ``sigstore`` package) and the
bundle carries everything else (certificate, SCT, log entry with inclusion proof, signed
checkpoint and signed entry timestamp). ``sigstore``'s verifier checks all of those; on
top of it the signer's certificate identity must match one of the policy's identity rules.

Signing needs the network (TUF refresh, Fulcio, Rekor) and an OIDC identity token. Where
either is missing it fails with one line saying which.

``sigstore`` pulls in pydantic and takes a few hundred milliseconds to import, so it is
imported here only when a keyless bundle is actually met.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.x509.oid import ObjectIdentifier

from nonoc.errors import NonoError
from nonoc.runtime.trust.policy import IdentityRule

if TYPE_CHECKING:
    from sigstore.models import TrustedRoot

# Fulcio's certificate extensions (the OIDC issuer, old raw form and new DER form) and
# the SAN other-name type it uses for identities that are neither e-mail nor URI.
OIDC_ISSUER_V1 = ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
OIDC_ISSUER_V2 = ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
SAN_OTHER_NAME = ObjectIdentifier("1.3.6.1.4.1.57264.1.7")
NAMED_ROOTS = ("sigstore-production", "sigstore-staging")


class KeylessError(NonoError):
    """A keyless bundle that does not verify, or keyless signing that cannot happen.

    ``reason`` is a short code: ``untrusted-identity``, ``invalid``, ``no-trusted-root``,
    ``offline``, ``no-identity``.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class KeylessPayload:
    """What a verified keyless bundle vouches for."""

    payload_type: str
    payload: bytes
    identity: str
    issuer: str
    rule: IdentityRule


def certificate_identity(cert: x509.Certificate) -> tuple[str, str]:
    """The (identity, issuer) Fulcio wrote into a signing certificate."""
    identity = ""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        san = None
    if san is not None:
        for name in san:
            if isinstance(name, x509.RFC822Name | x509.UniformResourceIdentifier):
                identity = name.value
                break
            if isinstance(name, x509.OtherName) and name.type_id == SAN_OTHER_NAME:
                identity = _der_utf8(name.value)
                break
    issuer = ""
    for oid, decode in ((OIDC_ISSUER_V2, _der_utf8), (OIDC_ISSUER_V1, _raw_text)):
        try:
            ext = cert.extensions.get_extension_for_oid(oid).value
        except x509.ExtensionNotFound:
            continue
        issuer = decode(ext.value)  # type: ignore[attr-defined]
        break
    return identity, issuer


def _raw_text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def _der_utf8(data: bytes) -> str:
    """Decode a DER UTF8String (tag 0x0C), short or long length form."""
    if len(data) < 2 or data[0] != 0x0C:
        return data.decode("utf-8", "replace")
    length = data[1]
    offset = 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[2 : 2 + count], "big")
        offset = 2 + count
    return data[offset : offset + length].decode("utf-8", "replace")


class _IdentityPolicy:
    """A ``sigstore`` verification policy: the certificate must match one of our rules."""

    def __init__(self, rules: Sequence[IdentityRule]) -> None:
        self.rules = tuple(rules)
        self.matched: IdentityRule | None = None

    def verify(self, cert: x509.Certificate) -> None:
        from sigstore.errors import VerificationError

        identity, issuer = certificate_identity(cert)
        for rule in self.rules:
            if rule.matches(identity, issuer):
                self.matched = rule
                return
        raise VerificationError(
            f"identity {identity} (issuer {issuer}) matches no trusted identity"
        )


def load_trusted_root(spec: str | os.PathLike[str] | None) -> TrustedRoot:
    """A trusted root: a ``trusted_root.json`` path, or ``sigstore-production``/``-staging``.

    The named roots are the ones the ``sigstore`` package ships or last fetched through TUF;
    they are used as they are, without a network refresh.
    """
    if spec is None:
        raise KeylessError(
            "no-trusted-root",
            'keyless signatures need a trusted root: set "trusted_root" in the trust policy '
            '(a trusted_root.json file, or "sigstore-production")',
        )
    from sigstore.errors import Error as SigstoreError
    from sigstore.models import ClientTrustConfig, TrustedRoot

    try:
        if str(spec) == "sigstore-production":
            return ClientTrustConfig.production(offline=True).trusted_root
        if str(spec) == "sigstore-staging":
            return ClientTrustConfig.staging(offline=True).trusted_root
        return TrustedRoot.from_file(str(spec))
    except (OSError, ValueError, SigstoreError) as exc:
        raise KeylessError("no-trusted-root", f"cannot load trusted root {spec}: {exc}") from exc


def verify_sigstore_envelope(
    bundle_bytes: bytes,
    identity_rules: Sequence[IdentityRule],
    trusted_root: str | os.PathLike[str] | TrustedRoot | None,
) -> KeylessPayload:
    """Verify a keyless Sigstore bundle carrying a DSSE envelope, offline.

    Checks the certificate chain up to the trusted root at the time the transparency log
    (or a timestamp authority) vouches for, the certificate's SCT, the log entry's inclusion
    proof, signed checkpoint and signed entry timestamp, the envelope's signature and its
    consistency with the log entry, and that the certificate's identity and issuer match
    one of ``identity_rules``. Returns the payload; the caller checks its type.
    """
    from sigstore.errors import Error as SigstoreError
    from sigstore.models import Bundle, TrustedRoot
    from sigstore.verify import Verifier

    if not identity_rules:
        raise KeylessError(
            "untrusted-identity", "keyless signature, but the trust policy trusts no identities"
        )
    root = (
        trusted_root if isinstance(trusted_root, TrustedRoot) else load_trusted_root(trusted_root)
    )
    try:
        bundle = Bundle.from_json(bundle_bytes)
    except (SigstoreError, ValueError) as exc:
        raise KeylessError("invalid", f"malformed keyless bundle: {_first_line(exc)}") from exc
    identity, issuer = certificate_identity(bundle.signing_certificate)
    policy = _IdentityPolicy(identity_rules)
    if not any(rule.matches(identity, issuer) for rule in identity_rules):
        raise KeylessError(
            "untrusted-identity",
            f"signed by {identity} (issuer {issuer}), which matches no trusted identity",
        )
    try:
        verifier = Verifier(trusted_root=root)
        payload_type, payload = verifier.verify_dsse(bundle, policy)
    except (SigstoreError, ValueError) as exc:
        raise KeylessError(
            "invalid", f"keyless signature does not verify: {_first_line(exc)}"
        ) from exc
    assert policy.matched is not None  # verify_dsse ran the policy
    return KeylessPayload(payload_type, payload, identity, issuer, policy.matched)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return _clip(text.splitlines()[0]) if text else type(exc).__name__


def identity_token(explicit: str | None) -> Any:
    """An OIDC identity token: given, from ``SIGSTORE_ID_TOKEN``, or from the ambient CI.

    Interactive browser sign-in is not attempted from here: it would hang a headless run.
    """
    from sigstore.errors import Error as SigstoreError
    from sigstore.oidc import IdentityError, IdentityToken, detect_credential

    raw = explicit or os.environ.get("SIGSTORE_ID_TOKEN")
    if not raw:
        try:
            raw = detect_credential()
        except (IdentityError, SigstoreError) as exc:
            raise KeylessError(
                "no-identity", f"no OIDC identity token: {_first_line(exc)}"
            ) from exc
    if not raw:
        raise KeylessError(
            "no-identity",
            "keyless signing needs an OIDC identity token: pass --identity-token, set "
            "SIGSTORE_ID_TOKEN, or run where an ambient credential exists (e.g. GitHub Actions)",
        )
    try:
        return IdentityToken(raw)
    except (IdentityError, SigstoreError, ValueError) as exc:
        raise KeylessError(
            "no-identity", f"invalid OIDC identity token: {_first_line(exc)}"
        ) from exc


def token_identity(token: Any) -> tuple[str, str]:
    """The (identity, issuer) an identity token will be certified as."""
    return str(token.identity), str(token.federated_issuer or token.issuer)


def sign_statements(
    statements: Sequence[bytes],
    token: Any,
    *,
    trust_config: Path | None = None,
    staging: bool = False,
) -> list[bytes]:
    """Sign in-toto statements keylessly (one certificate for all); return bundle JSONs.

    ``trust_config`` is a Sigstore client trust config file (trusted root plus signing
    config naming Fulcio, Rekor and timestamp authorities); by default the production (or
    staging) instance is used and its trust material refreshed through TUF.
    """
    from sigstore.dsse import Statement
    from sigstore.models import ClientTrustConfig
    from sigstore.sign import SigningContext

    try:
        if trust_config is not None:
            config = ClientTrustConfig.from_json(trust_config.read_text(encoding="utf-8"))
        elif staging:
            config = ClientTrustConfig.staging()
        else:
            config = ClientTrustConfig.production()
        context = SigningContext.from_trust_config(config)
        with context.signer(token, cache=True) as signer:
            bundles = [signer.sign_dsse(Statement(statement)) for statement in statements]
    except Exception as exc:
        # sigstore, TUF and requests each raise their own types for a missing network;
        # all of them end keyless signing the same way.
        raise KeylessError(
            "offline",
            "keyless signing failed (it needs the network to reach Sigstore's TUF "
            f"repository, Fulcio and Rekor): {_cause(exc)}",
        ) from exc
    return [bundle.to_json().encode("utf-8") + b"\n" for bundle in bundles]


def _cause(exc: BaseException) -> str:
    """The innermost exception's first line: the useful part of a chain of wrappers."""
    inner: BaseException = exc
    while inner.__cause__ is not None or inner.__context__ is not None:
        inner = inner.__cause__ or inner.__context__  # type: ignore[assignment]
    text = f"{type(inner).__name__}: {_first_line(inner)}"
    return _clip(text)


def _clip(text: str) -> str:
    """Keep messages on one readable line (sigstore sometimes prints whole structures)."""
    return text if len(text) <= 240 else text[:237] + "..."
