"""Verifying one signed file against the trust policy.

The order matters: first the signature (by a key or an identity the policy trusts), then
what the signed statement says (it is ours, it names this file, its digest is the file's
digest), then the predicates (signed within ``max_age_days``, not in the future). A
failure is a :class:`TrustFailure` whose message names the file and says what is wrong
in one line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from nonoc.errors import NonoError
from nonoc.runtime.trust.envelope import EnvelopeError, read_bundle, signature_valid
from nonoc.runtime.trust.files import signature_path
from nonoc.runtime.trust.policy import TrustPolicy
from nonoc.runtime.trust.statement import (
    INTOTO_PAYLOAD_TYPE,
    Signer,
    StatementError,
    format_time,
    parse_statement,
    sha256_hex,
)

#: How far in the future a signing time may lie before it is refused (clock skew).
CLOCK_SKEW = timedelta(minutes=5)

Reason = Literal[
    "unreadable",
    "unsigned",
    "malformed",
    "untrusted-key",
    "bad-signature",
    "untrusted-identity",
    "invalid",
    "no-trusted-root",
    "wrong-subject",
    "digest-mismatch",
    "expired",
    "future",
]


class TrustFailure(NonoError):
    """A file that did not verify. ``reason`` is a short code; the message is one line."""

    def __init__(self, path: Path, display: str, reason: Reason, detail: str) -> None:
        super().__init__(f"{display}: {detail}")
        self.path = path
        self.display = display
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class VerifiedFile:
    """A file whose signature the trust policy accepts."""

    path: Path
    signature_path: Path
    sha256: str
    kind: Literal["key", "keyless"]
    signer: Signer
    trusted_as: str  # the policy's name for the key, or the identity rule that matched
    signed_at: datetime
    policy_sha256: str

    def to_json(self, display: str) -> dict[str, object]:
        """A JSON-able summary, for ``--json`` output and audit records."""
        return {
            "file": display,
            "ok": True,
            "sha256": self.sha256,
            "kind": self.kind,
            "signer": self.signer.to_json(),
            "trusted_as": self.trusted_as,
            "signed_at": format_time(self.signed_at),
            "policy_sha256": self.policy_sha256,
        }


def verify_file(
    path: Path,
    policy: TrustPolicy,
    *,
    now: datetime | None = None,
    display: str | None = None,
) -> VerifiedFile:
    """Verify ``path`` against its signature file and ``policy``; raise :class:`TrustFailure`."""
    shown = display or str(path)
    moment = now if now is not None else datetime.now(UTC)

    def fail(reason: Reason, detail: str) -> TrustFailure:
        return TrustFailure(path, shown, reason, detail)

    try:
        content = path.read_bytes()
    except OSError as exc:
        raise fail("unreadable", f"cannot read: {exc.strerror}") from exc
    sig_path = signature_path(path)
    try:
        raw = sig_path.read_bytes()
    except FileNotFoundError:
        raise fail("unsigned", f"not signed (no {sig_path.name})") from None
    except OSError as exc:
        raise fail("unreadable", f"cannot read {sig_path.name}: {exc.strerror}") from exc
    try:
        bundle = read_bundle(raw)
    except EnvelopeError as exc:
        raise fail("malformed", f"{sig_path.name} is not a usable signature: {exc}") from exc

    if bundle.kind == "key":
        key = policy.key_by_id(bundle.key_hint)
        if key is None:
            trusted = "" if policy.keys else " (it trusts no keys)"
            raise fail(
                "untrusted-key",
                f"signed by key {bundle.key_hint[:16]}…, which the trust policy does not trust"
                + trusted,
            )
        envelope = bundle.envelope
        if not signature_valid(key.public_key, envelope.signature, envelope.pae()):
            raise fail("bad-signature", f"signature does not verify with trusted key '{key.name}'")
        payload_type, payload = envelope.payload_type, envelope.payload
        trusted_as = key.name
        signed_by_key: str | None = key.keyid
        certified: Signer | None = None
    else:
        from nonoc.runtime.trust.keyless import KeylessError, verify_sigstore_envelope

        try:
            result = verify_sigstore_envelope(raw, policy.identities, policy.trusted_root)
        except KeylessError as exc:
            reason: Reason = "invalid"
            if exc.reason == "untrusted-identity":
                reason = "untrusted-identity"
            elif exc.reason == "no-trusted-root":
                reason = "no-trusted-root"
            raise fail(reason, exc.diagnostic.message) from exc
        payload_type, payload = result.payload_type, result.payload
        trusted_as = result.rule.describe()
        # The certificate, not the statement, says who signed: an identity token's own
        # idea of its identity (a GitHub "sub" claim) differs from what Fulcio certifies.
        certified = Signer(kind="keyless", identity=result.identity, issuer=result.issuer)
        signed_by_key = None

    if payload_type != INTOTO_PAYLOAD_TYPE:
        raise fail(
            "malformed", f"signed payload has type {payload_type!r}, not an in-toto statement"
        )
    try:
        statement = parse_statement(payload)
    except StatementError as exc:
        raise fail("malformed", f"signed statement is not usable: {exc}") from exc
    signer = statement.signer
    if certified is None:
        if signer.kind != "key" or signer.keyid != signed_by_key:
            raise fail(
                "malformed", "the statement names another signer than the key that signed it"
            )
    else:
        if signer.kind != "keyless":
            raise fail(
                "malformed", "the statement claims a key signed it, but it was signed keylessly"
            )
        signer = certified
    if statement.subject_name != path.name:
        raise fail(
            "wrong-subject",
            f"signature is for a file named '{statement.subject_name}', not '{path.name}'",
        )
    digest = sha256_hex(content)
    if statement.subject_sha256 != digest:
        raise fail(
            "digest-mismatch",
            f"content does not match its signature (signed sha256 {statement.subject_sha256[:12]}…, "
            f"file has {digest[:12]}…)",
        )
    if statement.signed_at > moment + CLOCK_SKEW:
        raise fail("future", f"signing time {statement.signed_at_text} lies in the future")
    if policy.max_age_days is not None:
        age = moment - statement.signed_at
        if age > timedelta(days=policy.max_age_days):
            raise fail(
                "expired",
                f"signed {statement.signed_at_text}, {age.days} days ago; the trust policy "
                f"accepts signatures up to {policy.max_age_days} days old",
            )
    return VerifiedFile(
        path=path,
        signature_path=sig_path,
        sha256=digest,
        kind=bundle.kind,
        signer=signer,
        trusted_as=trusted_as,
        signed_at=statement.signed_at,
        policy_sha256=statement.policy_sha256,
    )
