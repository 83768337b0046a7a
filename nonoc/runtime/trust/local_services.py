"""Serve a :class:`LocalAuthority` as Fulcio and Rekor endpoints on 127.0.0.1.

With it, the ``sigstore`` package's real signing client (CSR to Fulcio, SCT check, DSSE
entry to Rekor, bundle assembly) runs offline against keys of our own, so ``nono trust
sign --keyless --trust-config FILE`` can be exercised end to end in tests. Only what that
client calls is served: ``POST /api/v2/signingCert`` and ``POST /api/v1/log/entries``
(``dsse`` entries). The OIDC token is read, not verified: this stands in for Fulcio, it
is not one.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from nonoc.runtime.trust.local_authority import LocalAuthority, dsse_entry_body
from nonoc.runtime.trust.statement import canonical_json

SIGNING_CONFIG_MEDIA_TYPE = "application/vnd.dev.sigstore.signingconfig.v0.2+json"
CLIENT_CONFIG_MEDIA_TYPE = "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json"


def _token_claims(header: str) -> dict[str, Any]:
    token = header.removeprefix("Bearer ").strip()
    part = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


def _handler(authority: LocalAuthority, lock: threading.Lock) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # http.server names the argument
            return  # keep test output clean

        def _reply(self, status: int, data: object) -> None:
            body = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:  # http.server's naming
            length = int(self.headers.get("Content-Length", "0"))
            request = json.loads(self.rfile.read(length) or b"{}")
            try:
                with lock:
                    if self.path == "/api/v2/signingCert":
                        self._reply(200, self._certificate(request))
                    elif self.path == "/api/v1/log/entries":
                        self._reply(201, self._log(request))
                    else:
                        self._reply(404, {"message": f"no such endpoint {self.path}"})
            except (KeyError, ValueError, IndexError) as exc:
                self._reply(400, {"message": f"bad request: {exc}"})

        def _certificate(self, request: dict[str, Any]) -> dict[str, Any]:
            claims = _token_claims(self.headers["Authorization"])
            csr_pem = base64.b64decode(request["certificateSigningRequest"])
            public_key = x509.load_pem_x509_csr(csr_pem).public_key()
            if not isinstance(public_key, ec.EllipticCurvePublicKey):
                raise ValueError("only ECDSA keys are certified")
            identity = str(claims.get("email") or claims["sub"])
            cert = authority.issue(
                public_key,
                identity,
                str(claims["iss"]),
                at=datetime.now(UTC).replace(microsecond=0),
            )
            pem = serialization.Encoding.PEM
            chain = [
                c.public_bytes(pem).decode()
                for c in (cert, authority.intermediate_cert, authority.root_cert)
            ]
            return {"signedCertificateEmbeddedSct": {"chain": {"certificates": chain}}}

        def _log(self, request: dict[str, Any]) -> dict[str, Any]:
            if request.get("kind") != "dsse":
                raise ValueError("only dsse entries are logged")
            content = request["spec"]["proposedContent"]
            envelope_text: str = content["envelope"]
            envelope = json.loads(envelope_text)
            payload = base64.b64decode(envelope["payload"])
            signature = base64.b64decode(envelope["signatures"][0]["sig"])
            cert = x509.load_pem_x509_certificate(base64.b64decode(content["verifiers"][0]))
            body = dsse_entry_body(envelope_text.encode(), payload, signature, cert)
            now = int(datetime.now(UTC).timestamp())
            return authority.append(body, now).api_json()

    return Handler


@contextmanager
def serve(authority: LocalAuthority) -> Iterator[str]:
    """Run Fulcio- and Rekor-like endpoints on 127.0.0.1; yield their base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(authority, threading.Lock()))
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def client_trust_config(authority: LocalAuthority, base_url: str) -> bytes:
    """A Sigstore client trust config: the authority's root, and ``base_url`` to sign with."""
    start = authority.valid_from.strftime("%Y-%m-%dT%H:%M:%SZ")
    service = {
        "url": base_url,
        "majorApiVersion": 1,
        "validFor": {"start": start},
        "operator": "nono-test",
    }
    config = {
        "mediaType": CLIENT_CONFIG_MEDIA_TYPE,
        "trustedRoot": json.loads(authority.trusted_root_json()),
        "signingConfig": {
            "mediaType": SIGNING_CONFIG_MEDIA_TYPE,
            "caUrls": [service],
            "oidcUrls": [],
            "rekorTlogUrls": [service],
            "tsaUrls": [],
            "rekorTlogConfig": {"selector": "ANY"},
            "tsaConfig": {"selector": "ANY"},
        },
    }
    return canonical_json(config) + b"\n"
