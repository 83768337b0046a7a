"""Shared helpers for the trust tests: keys, policies, a fixed clock, fake tokens."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import keyring.backend

from nonoc.runtime.trust.keys import SigningKey, algorithm_of, generate, keyid
from nonoc.runtime.trust.policy import IdentityRule, TrustedKey, TrustPolicy
from nonoc.runtime.trust.sign import sign_files


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A keyring backend holding passwords in a dict: the OS keyring's stand-in."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def delete_password(self, service: str, username: str) -> None:
        del self.store[(service, username)]


#: The tests' "now": signatures are made and checked against this clock.
NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


def make_key(name: str = "alice", algorithm: str = "ed25519") -> SigningKey:
    """A fresh in-memory signing key."""
    private = generate(algorithm)  # type: ignore[arg-type]
    return SigningKey(name, algorithm_of(private), private)


def trusted(key: SigningKey) -> TrustedKey:
    """The trust-policy entry for ``key``."""
    return TrustedKey(key.name, key.public_key, keyid(key.public_key))


def policy_trusting(*keys: SigningKey, **changes: object) -> TrustPolicy:
    """A policy trusting ``keys``; other fields from ``changes``."""
    return replace(TrustPolicy(keys=tuple(trusted(k) for k in keys)), **changes)  # type: ignore[arg-type]


def keyless_policy(root: Path, *rules: IdentityRule, **changes: object) -> TrustPolicy:
    """A policy trusting keyless ``rules`` under the trusted root file ``root``."""
    return replace(TrustPolicy(identities=rules, trusted_root=str(root)), **changes)  # type: ignore[arg-type]


def sign(path: Path, key: SigningKey, *, at: datetime = NOW) -> Path:
    """Sign ``path`` with ``key`` at time ``at``; return the signature file."""
    return sign_files([path], TrustPolicy(), key=key, now=at)[0]


def days(n: float) -> timedelta:
    """``n`` days."""
    return timedelta(days=n)


def fake_token(
    email: str = "signer@example.com", issuer: str = "https://accounts.google.com"
) -> str:
    """An unsigned JWT shaped like an OIDC identity token (only its claims are read locally)."""

    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    now = int(datetime.now(UTC).timestamp())
    claims = {
        "iss": issuer,
        "aud": "sigstore",
        "sub": email,
        "email": email,
        "email_verified": True,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
    }
    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"
