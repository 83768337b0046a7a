"""Keyless-signed nono bundles (``nonoc compile --sign sigstore``): the proposed contract.

Sigstore's keyless signing signs in-toto statements, so a nono bundle payload is carried
inside one: the subject is the canonical payload (name ``nono-bundle``, its SHA-256) and
the predicate (type ``https://nono.dev/attestation/bundle/v1``) holds the payload itself
with its DSSE payload type. The bundle file is then the Sigstore bundle JSON.

The bundle room calls :func:`sign_bundle_payload` when compiling and
:func:`verify_bundle_payload` when ``nono exec`` meets such a file; both lean on
:mod:`nonoc.runtime.trust.keyless`. See ``docs/trust.md`` for the design note.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nonoc.runtime.trust.keyless import KeylessError, verify_sigstore_envelope
from nonoc.runtime.trust.policy import IdentityRule
from nonoc.runtime.trust.statement import (
    INTOTO_PAYLOAD_TYPE,
    STATEMENT_TYPE,
    canonical_json,
    sha256_hex,
)

BUNDLE_PREDICATE_TYPE = "https://nono.dev/attestation/bundle/v1"
NONO_BUNDLE_PAYLOAD_TYPE = "application/vnd.nono.bundle+json"
SUBJECT_NAME = "nono-bundle"


def wrap_bundle_payload(payload: bytes, payload_type: str = NONO_BUNDLE_PAYLOAD_TYPE) -> bytes:
    """The in-toto statement (canonical JSON) that carries a bundle payload."""
    return canonical_json(
        {
            "_type": STATEMENT_TYPE,
            "subject": [{"name": SUBJECT_NAME, "digest": {"sha256": sha256_hex(payload)}}],
            "predicateType": BUNDLE_PREDICATE_TYPE,
            "predicate": {
                "payloadType": payload_type,
                "payload": base64.b64encode(payload).decode("ascii"),
            },
        }
    )


def unwrap_bundle_payload(statement: bytes) -> tuple[str, bytes]:
    """``(payload_type, payload)`` from a statement made by :func:`wrap_bundle_payload`.

    The payload's digest must be the subject's: the statement is what was signed, and the
    predicate must not smuggle in other bytes than the subject names.
    """
    try:
        data: Any = json.loads(statement)
        if data["_type"] != STATEMENT_TYPE or data["predicateType"] != BUNDLE_PREDICATE_TYPE:
            raise ValueError("not a nono bundle statement")
        (subject,) = data["subject"]
        predicate = data["predicate"]
        payload = base64.b64decode(predicate["payload"], validate=True)
        payload_type = predicate["payloadType"]
        if not isinstance(payload_type, str):
            raise ValueError("payloadType is not a string")
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise KeylessError("invalid", f"signed statement is not a nono bundle: {exc}") from exc
    if subject.get("digest", {}).get("sha256") != sha256_hex(payload):
        raise KeylessError("invalid", "bundle payload does not match the signed digest")
    return payload_type, payload


def verify_bundle_payload(
    bundle_bytes: bytes,
    identity_rules: Sequence[IdentityRule],
    trusted_root: str | os.PathLike[str],
) -> bytes:
    """Verify a keyless-signed nono bundle offline; return the canonical bundle payload."""
    result = verify_sigstore_envelope(bundle_bytes, identity_rules, trusted_root)
    if result.payload_type != INTOTO_PAYLOAD_TYPE:
        raise KeylessError("invalid", f"signed payload has type {result.payload_type!r}")
    payload_type, payload = unwrap_bundle_payload(result.payload)
    if payload_type != NONO_BUNDLE_PAYLOAD_TYPE:
        raise KeylessError("invalid", f"signed payload is {payload_type!r}, not a nono bundle")
    return payload


def sign_bundle_payload(
    payload: bytes,
    *,
    identity_token: str | None = None,
    trust_config: Path | None = None,
    staging: bool = False,
) -> bytes:
    """Sign a bundle payload keylessly (needs the network); return the Sigstore bundle JSON."""
    from nonoc.runtime.trust.keyless import identity_token as get_token
    from nonoc.runtime.trust.keyless import sign_statements

    token = get_token(identity_token)
    (signed,) = sign_statements(
        [wrap_bundle_payload(payload)], token, trust_config=trust_config, staging=staging
    )
    return signed
