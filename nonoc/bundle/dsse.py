"""The DSSE envelope around a bundle's payload: how a bundle is signed.

The envelope is itself written as canonical JSON, and Ed25519 signatures are
deterministic, so the same payload signed with the same key gives the same file.
The pre-authentication encoding is shared with the verifier (``nonoc.launch.verify.pae``)
so that signer and verifier cannot drift apart.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nonoc.bundle.canonical import canonical_json
from nonoc.launch.verify import PAYLOAD_TYPE, b64encode, pae

if TYPE_CHECKING:
    from nonoc.bundle.keys import SigningKey


def seal(payload: bytes, key: SigningKey | None) -> bytes:
    """The envelope file for ``payload``: signed with ``key``, or unsigned when ``key`` is None.

    ``nono exec`` refuses unsigned envelopes; they exist for inspection and for signing
    elsewhere (a later step may add a signature without changing the payload).
    """
    signatures = []
    if key is not None:
        signature = key.sign(pae(PAYLOAD_TYPE, payload))
        signatures.append({"keyid": key.keyid, "sig": b64encode(signature)})
    envelope = {
        "payload": b64encode(payload),
        "payloadType": PAYLOAD_TYPE,
        "signatures": signatures,
    }
    return canonical_json(envelope) + b"\n"
