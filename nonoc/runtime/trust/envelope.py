"""DSSE envelopes and the Sigstore bundle that carries them.

A signature file (``FILE.sigstore.json``) is a Sigstore bundle, media type
``application/vnd.dev.sigstore.bundle.v0.3+json``, whose ``dsseEnvelope`` holds the
in-toto statement. Keyed bundles name the key in ``verificationMaterial.publicKey.hint``
(the key id: SHA-256 of its SubjectPublicKeyInfo DER, hex) and carry no transparency-log
entry; keyless bundles carry Fulcio's certificate and Rekor's entry and are read by the
``sigstore`` package (see :mod:`nonoc.runtime.trust.keyless`).

The signature covers DSSE's pre-authentication encoding
``"DSSEv1" SP len(type) SP type SP len(payload) SP payload``: Ed25519 signs it as is,
ECDSA P-256 signs it with SHA-256 (DER-encoded signature), as Sigstore does.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from nonoc.runtime.trust.statement import canonical_json

BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
#: Older spellings the ``sigstore`` package still reads; we accept them for keyless bundles.
KEYLESS_MEDIA_TYPES = frozenset(
    {
        BUNDLE_MEDIA_TYPE,
        "application/vnd.dev.sigstore.bundle+json;version=0.3",
        "application/vnd.dev.sigstore.bundle+json;version=0.2",
    }
)

PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey
PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey


class EnvelopeError(ValueError):
    """The signature file is not a bundle we can read."""


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding of ``payload`` with its type."""
    type_bytes = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(type_bytes), type_bytes, len(payload), payload)


def sign_pae(key: PrivateKey, message: bytes) -> bytes:
    """Sign ``message`` (a PAE) with an Ed25519 or ECDSA P-256 private key."""
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(message)
    return key.sign(message, ec.ECDSA(hashes.SHA256()))


def signature_valid(key: PublicKey, signature: bytes, message: bytes) -> bool:
    """Whether ``signature`` over ``message`` verifies with ``key``."""
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, message)
        else:
            key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


@dataclass(frozen=True)
class Envelope:
    """A DSSE envelope with exactly one signature (what we write and accept)."""

    payload_type: str
    payload: bytes
    signature: bytes
    keyid: str = ""

    def pae(self) -> bytes:
        """The bytes the signature covers."""
        return pae(self.payload_type, self.payload)

    def to_json(self) -> dict[str, Any]:
        """The envelope as Sigstore's bundle JSON spells it."""
        return {
            "payload": base64.b64encode(self.payload).decode("ascii"),
            "payloadType": self.payload_type,
            "signatures": [
                {"keyid": self.keyid, "sig": base64.b64encode(self.signature).decode("ascii")}
            ],
        }

    @classmethod
    def from_json(cls, data: Any) -> Envelope:
        """Read an envelope object; refuse anything but exactly one signature."""
        if not isinstance(data, dict):
            raise EnvelopeError("dsseEnvelope is not an object")
        payload_type = data.get("payloadType")
        if not isinstance(payload_type, str):
            raise EnvelopeError("dsseEnvelope has no payloadType")
        signatures = data.get("signatures")
        if not isinstance(signatures, list) or len(signatures) != 1:
            raise EnvelopeError("dsseEnvelope must carry exactly one signature")
        entry = signatures[0]
        if not isinstance(entry, dict):
            raise EnvelopeError("dsseEnvelope signature is not an object")
        keyid = entry.get("keyid") or ""
        if not isinstance(keyid, str):
            raise EnvelopeError("dsseEnvelope keyid is not a string")
        return cls(
            payload_type=payload_type,
            payload=_b64(data.get("payload"), "payload"),
            signature=_b64(entry.get("sig"), "signature"),
            keyid=keyid,
        )


def sign_envelope(key: PrivateKey, payload_type: str, payload: bytes, keyid: str) -> Envelope:
    """Sign ``payload`` into a one-signature DSSE envelope."""
    return Envelope(payload_type, payload, sign_pae(key, pae(payload_type, payload)), keyid)


@dataclass(frozen=True)
class SignatureBundle:
    """A parsed signature file.

    ``kind`` is ``"key"`` (``key_hint`` names the key) or ``"keyless"`` (``raw`` is handed
    to the ``sigstore`` package, which owns that format's verification).
    """

    kind: Literal["key", "keyless"]
    envelope: Envelope
    key_hint: str
    raw: bytes


def keyed_bundle_bytes(envelope: Envelope) -> bytes:
    """The signature file for a keyed envelope: canonical JSON plus a final newline."""
    bundle = {
        "mediaType": BUNDLE_MEDIA_TYPE,
        "verificationMaterial": {"publicKey": {"hint": envelope.keyid}},
        "dsseEnvelope": envelope.to_json(),
    }
    return canonical_json(bundle) + b"\n"


def read_bundle(raw: bytes) -> SignatureBundle:
    """Parse a signature file and tell keyed from keyless bundles."""
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EnvelopeError(f"not JSON: {exc.args[0]}") from exc
    if not isinstance(data, dict):
        raise EnvelopeError("not a Sigstore bundle (top level is not an object)")
    media_type = data.get("mediaType")
    if media_type not in KEYLESS_MEDIA_TYPES:
        raise EnvelopeError(f"unsupported bundle media type {media_type!r}")
    material = data.get("verificationMaterial")
    if not isinstance(material, dict):
        raise EnvelopeError("bundle has no verificationMaterial")
    if "dsseEnvelope" not in data:
        raise EnvelopeError("bundle carries no DSSE envelope (a bare message signature?)")
    envelope = Envelope.from_json(data["dsseEnvelope"])
    public_key = material.get("publicKey")
    if public_key is not None:
        if media_type != BUNDLE_MEDIA_TYPE:
            raise EnvelopeError(f"keyed bundles must use media type {BUNDLE_MEDIA_TYPE!r}")
        hint = public_key.get("hint") if isinstance(public_key, dict) else None
        if not isinstance(hint, str) or not hint:
            raise EnvelopeError("verificationMaterial.publicKey has no hint")
        return SignatureBundle("key", envelope, hint, raw)
    if "certificate" in material or "x509CertificateChain" in material:
        return SignatureBundle("keyless", envelope, "", raw)
    raise EnvelopeError("verificationMaterial names neither a public key nor a certificate")


def _b64(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise EnvelopeError(f"dsseEnvelope {what} is missing")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise EnvelopeError(f"dsseEnvelope {what} is not base64") from exc
