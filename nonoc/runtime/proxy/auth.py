"""The per-session token: only the sandboxed child may use the proxy.

The proxy listens on 127.0.0.1, where every local process can reach it. Each session
gets a fresh random token; the child presents it as the password of HTTP Basic proxy
authentication (``http://nono:TOKEN@127.0.0.1:PORT`` in ``HTTP_PROXY``, which curl, pip,
git, urllib, requests and node's proxy agents turn into ``Proxy-Authorization``). The user
name is ignored. Credential routes, which clients reach directly rather than as a proxy,
accept the same token inside the placeholder API key the child was given.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets

PLACEHOLDER_PREFIX = "nono-placeholder-"


def new_token() -> str:
    """A fresh session token: 256 random bits, URL-safe (fits in a proxy URL's userinfo)."""
    return secrets.token_urlsafe(32)


def check_proxy_authorization(value: str | None, token: str) -> bool:
    """Whether a ``Proxy-Authorization`` header carries ``token`` as its Basic password."""
    if not value:
        return False
    scheme, _, encoded = value.strip().partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return False
    _user, sep, password = decoded.partition(":")
    return bool(sep) and hmac.compare_digest(password.encode(), token.encode())


def placeholder_key(token: str) -> str:
    """The API key the child is given for credential routes: worthless outside this session."""
    return PLACEHOLDER_PREFIX + token


def check_placeholder(value: str | None, token: str) -> bool:
    """Whether an auth header value (``Bearer X``, ``token X`` or ``X``) carries the placeholder."""
    if not value:
        return False
    presented = value.strip().rsplit(" ", 1)[-1]
    return hmac.compare_digest(presented.encode(), placeholder_key(token).encode())
