"""A self-contained, Sigstore-shaped authority, for offline tests and air-gapped trials.

It plays the three parts of a Sigstore instance with keys of its own: a Fulcio-like CA
(root and intermediate) that certifies an OIDC identity for a short-lived key, a
certificate-transparency log whose SCT is embedded in each certificate, and a Rekor-like
transparency log that records each DSSE envelope (``dsse`` 0.0.1 entries) with a Merkle
inclusion proof, a signed checkpoint and a signed entry timestamp. Its
``trusted_root_json`` is the root of trust to verify what it signed.

Nothing here is trusted by default; a bundle it signs verifies only against its own
trusted root. The bundles are real Sigstore bundles in every other respect, so the
``sigstore`` package's verifier runs all its checks on them (chain at the logged time,
SCT, inclusion proof, checkpoint, SET, envelope signature, log-body consistency).
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from nonoc.runtime.trust.envelope import BUNDLE_MEDIA_TYPE, pae
from nonoc.runtime.trust.merkle import inclusion_path, leaf_hash, merkle_root
from nonoc.runtime.trust.statement import INTOTO_PAYLOAD_TYPE, canonical_json

_OIDC_ISSUER_V1 = ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
_OIDC_ISSUER_V2 = ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
_SCT_LIST = ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")
TRUSTED_ROOT_MEDIA_TYPE = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
LOG_NAME = "nono-local-rekor"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _spki(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _der_octet_string(data: bytes) -> bytes:
    return b"\x04" + _der_length(len(data)) + data


def _der_utf8(text: str) -> bytes:
    data = text.encode("utf-8")
    return b"\x0c" + _der_length(len(data)) + data


def _der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    body = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def dsse_entry_body(
    envelope: bytes, payload: bytes, signature: bytes, cert: x509.Certificate
) -> bytes:
    """The canonical body of a Rekor ``dsse`` 0.0.1 entry for one signed envelope."""
    pem = cert.public_bytes(serialization.Encoding.PEM)
    return canonical_json(
        {
            "apiVersion": "0.0.1",
            "kind": "dsse",
            "spec": {
                "envelopeHash": {
                    "algorithm": "sha256",
                    "value": hashlib.sha256(envelope).hexdigest(),
                },
                "payloadHash": {
                    "algorithm": "sha256",
                    "value": hashlib.sha256(payload).hexdigest(),
                },
                "signatures": [{"signature": _b64(signature), "verifier": _b64(pem)}],
            },
        }
    )


@dataclass(frozen=True)
class LogEntry:
    """One entry of the local transparency log, with what proves its inclusion."""

    body: bytes
    index: int
    tree_size: int
    root: bytes
    proof: tuple[bytes, ...]
    checkpoint: str
    integrated_time: int
    log_id: bytes
    promise_signature: bytes

    def bundle_json(self) -> dict[str, object]:
        """The entry as a Sigstore bundle's ``tlogEntries`` item."""
        return {
            "logIndex": str(self.index),
            "logId": {"keyId": _b64(self.log_id)},
            "kindVersion": {"kind": "dsse", "version": "0.0.1"},
            "integratedTime": str(self.integrated_time),
            "inclusionPromise": {"signedEntryTimestamp": _b64(self.promise_signature)},
            "inclusionProof": {
                "logIndex": str(self.index),
                "rootHash": _b64(self.root),
                "treeSize": str(self.tree_size),
                "hashes": [_b64(h) for h in self.proof],
                "checkpoint": {"envelope": self.checkpoint},
            },
            "canonicalizedBody": _b64(self.body),
        }

    def api_json(self) -> dict[str, object]:
        """The entry as Rekor's v1 API returns it (keyed by a made-up entry UUID)."""
        uuid = hashlib.sha256(self.body).hexdigest()
        return {
            uuid: {
                "body": _b64(self.body),
                "integratedTime": self.integrated_time,
                "logID": self.log_id.hex(),
                "logIndex": self.index,
                "verification": {
                    "inclusionProof": {
                        "checkpoint": self.checkpoint,
                        "hashes": [h.hex() for h in self.proof],
                        "logIndex": self.index,
                        "rootHash": self.root.hex(),
                        "treeSize": self.tree_size,
                    },
                    "signedEntryTimestamp": _b64(self.promise_signature),
                },
            }
        }


@dataclass
class LocalAuthority:
    """CA, CT log and transparency log, each with a fresh P-256 key."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    root_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    intermediate_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    ct_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    rekor_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    leaves: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.valid_from = self.now - timedelta(days=365)
        self.root_cert = self._ca_cert(
            "nono local test root", self.root_key, self.root_key, None, path_length=1
        )
        self.intermediate_cert = self._ca_cert(
            "nono local test intermediate",
            self.intermediate_key,
            self.root_key,
            self.root_cert,
            path_length=0,
        )
        # Earlier entries make the inclusion proofs non-trivial, as in a real log.
        for filler in (b"entry 0", b"entry 1", b"entry 2"):
            self.leaves.append(leaf_hash(filler))

    @property
    def ct_log_id(self) -> bytes:
        """The CT log's id: SHA-256 of its public key."""
        return hashlib.sha256(_spki(self.ct_key.public_key())).digest()

    @property
    def rekor_log_id(self) -> bytes:
        """The transparency log's id: SHA-256 of its public key."""
        return hashlib.sha256(_spki(self.rekor_key.public_key())).digest()

    def _ca_cert(
        self,
        name: str,
        key: ec.EllipticCurvePrivateKey,
        signer: ec.EllipticCurvePrivateKey,
        parent: x509.Certificate | None,
        *,
        path_length: int,
    ) -> x509.Certificate:
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "nono test"),
                x509.NameAttribute(NameOID.COMMON_NAME, name),
            ]
        )
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(parent.subject if parent else subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self.valid_from)
            .not_valid_after(self.now + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
        )
        if parent is not None:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()),
                critical=False,
            )
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False
            )
        return builder.sign(signer, hashes.SHA256())

    def issue(
        self,
        public_key: ec.EllipticCurvePublicKey,
        identity: str,
        issuer: str,
        *,
        at: datetime,
        san: Literal["email", "uri"] = "email",
    ) -> x509.Certificate:
        """A Fulcio-like leaf certificate for ``identity`` (from ``issuer``), valid 10 minutes."""
        name: x509.GeneralName = (
            x509.RFC822Name(identity)
            if san == "email"
            else x509.UniformResourceIdentifier(identity)
        )
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([]))
            .issuer_name(self.intermediate_cert.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(at - timedelta(seconds=1))
            .not_valid_after(at + timedelta(minutes=10))
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    self.intermediate_key.public_key()
                ),
                critical=False,
            )
            # An empty subject makes the SAN the only name, which RFC 5280 wants critical.
            .add_extension(x509.SubjectAlternativeName([name]), critical=True)
            .add_extension(
                x509.UnrecognizedExtension(_OIDC_ISSUER_V1, issuer.encode()), critical=False
            )
            .add_extension(
                x509.UnrecognizedExtension(_OIDC_ISSUER_V2, _der_utf8(issuer)), critical=False
            )
        )
        # The SCT signs the certificate as it is without the SCT list (the "precertificate"
        # TBS), so sign that first, then add the list as the last extension.
        precert = builder.sign(self.intermediate_key, hashes.SHA256())
        sct = self._sct(precert.tbs_certificate_bytes, at)
        sct_list = len(sct).to_bytes(2, "big") + sct
        extension = _der_octet_string(len(sct_list).to_bytes(2, "big") + sct_list)
        builder = builder.add_extension(
            x509.UnrecognizedExtension(_SCT_LIST, extension), critical=False
        )
        return builder.sign(self.intermediate_key, hashes.SHA256())

    def _sct(self, tbs: bytes, at: datetime) -> bytes:
        timestamp = int(at.timestamp() * 1000)
        issuer_key_hash = hashlib.sha256(_spki(self.intermediate_key.public_key())).digest()
        signed = (
            b"\x00\x00"  # v1, certificate_timestamp
            + timestamp.to_bytes(8, "big")
            + b"\x00\x01"  # precert_entry
            + issuer_key_hash
            + len(tbs).to_bytes(3, "big")
            + tbs
            + b"\x00\x00"  # no extensions
        )
        signature = self.ct_key.sign(signed, ec.ECDSA(hashes.SHA256()))
        return (
            b"\x00"
            + self.ct_log_id
            + timestamp.to_bytes(8, "big")
            + b"\x00\x00"
            + b"\x04\x03"  # sha256, ecdsa
            + len(signature).to_bytes(2, "big")
            + signature
        )

    def sign_dsse(
        self,
        statement: bytes,
        *,
        identity: str,
        issuer: str,
        at: datetime | None = None,
        san: Literal["email", "uri"] = "email",
    ) -> bytes:
        """Sign an in-toto statement as a keyless signer would; return the bundle JSON."""
        moment = (at or self.now).astimezone(UTC).replace(microsecond=0)
        key = ec.generate_private_key(ec.SECP256R1())
        cert = self.issue(key.public_key(), identity, issuer, at=moment, san=san)
        signature = key.sign(pae(INTOTO_PAYLOAD_TYPE, statement), ec.ECDSA(hashes.SHA256()))
        envelope: dict[str, object] = {
            "payload": _b64(statement),
            "payloadType": INTOTO_PAYLOAD_TYPE,
            "signatures": [{"sig": _b64(signature)}],
        }
        entry = self.log_dsse(envelope, cert, statement, signature, int(moment.timestamp()))
        bundle = {
            "mediaType": BUNDLE_MEDIA_TYPE,
            "verificationMaterial": {
                "certificate": {"rawBytes": _b64(cert.public_bytes(serialization.Encoding.DER))},
                "tlogEntries": [entry],
            },
            "dsseEnvelope": envelope,
        }
        return canonical_json(bundle) + b"\n"

    def log_dsse(
        self,
        envelope: dict[str, object],
        cert: x509.Certificate,
        payload: bytes,
        signature: bytes,
        integrated_time: int,
    ) -> dict[str, object]:
        """Append a ``dsse`` 0.0.1 entry; return it as a bundle's ``tlogEntries`` item."""
        body = dsse_entry_body(canonical_json(envelope), payload, signature, cert)
        return self.append(body, integrated_time).bundle_json()

    def append(self, body: bytes, integrated_time: int) -> LogEntry:
        """Add ``body`` to the log; return it with its proof, checkpoint and promise."""
        self.leaves.append(leaf_hash(body))
        index = len(self.leaves) - 1
        root = merkle_root(self.leaves)
        note = f"{LOG_NAME} - 1\n{len(self.leaves)}\n{_b64(root)}\n"
        note_sig = self.rekor_key.sign(note.encode(), ec.ECDSA(hashes.SHA256()))
        checkpoint = f"{note}\n\u2014 {LOG_NAME} {_b64(self.rekor_log_id[:4] + note_sig)}\n"
        promise = canonical_json(
            {
                "body": _b64(body),
                "integratedTime": integrated_time,
                "logID": self.rekor_log_id.hex(),
                "logIndex": index,
            }
        )
        return LogEntry(
            body=body,
            index=index,
            tree_size=len(self.leaves),
            root=root,
            proof=tuple(inclusion_path(index, self.leaves)),
            checkpoint=checkpoint,
            integrated_time=integrated_time,
            log_id=self.rekor_log_id,
            promise_signature=self.rekor_key.sign(promise, ec.ECDSA(hashes.SHA256())),
        )

    def trusted_root_json(self) -> bytes:
        """The Sigstore trusted root (``trustedroot+json;version=0.1``) of this authority."""
        start = self.valid_from.strftime("%Y-%m-%dT%H:%M:%SZ")

        def log(url: str, key: ec.EllipticCurvePrivateKey, log_id: bytes) -> dict[str, object]:
            return {
                "baseUrl": url,
                "hashAlgorithm": "SHA2_256",
                "publicKey": {
                    "rawBytes": _b64(_spki(key.public_key())),
                    "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                    "validFor": {"start": start},
                },
                "logId": {"keyId": _b64(log_id)},
            }

        der = serialization.Encoding.DER
        root = {
            "mediaType": TRUSTED_ROOT_MEDIA_TYPE,
            "tlogs": [log("https://rekor.nono.invalid", self.rekor_key, self.rekor_log_id)],
            "certificateAuthorities": [
                {
                    "subject": {"organization": "nono test", "commonName": "nono local test root"},
                    "uri": "https://fulcio.nono.invalid",
                    "certChain": {
                        "certificates": [
                            {"rawBytes": _b64(self.intermediate_cert.public_bytes(der))},
                            {"rawBytes": _b64(self.root_cert.public_bytes(der))},
                        ]
                    },
                    "validFor": {"start": start},
                }
            ],
            "ctlogs": [log("https://ctfe.nono.invalid", self.ct_key, self.ct_log_id)],
            "timestampAuthorities": [],
        }
        return canonical_json(root) + b"\n"


def random_identity() -> str:
    """An e-mail identity no real signer has, for tests."""
    return f"tester-{os.urandom(4).hex()}@nono.invalid"
