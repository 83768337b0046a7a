"""Credential routes: reverse-proxy paths that add a secret the agent never sees.

A route named ``openai`` serves ``http://127.0.0.1:PORT/openai/…`` and forwards each
request to its upstream (``https://api.openai.com/…``) over verified TLS, replacing the
client's auth header with the real secret. The child is given the route's URL as its
``*_BASE_URL`` and a placeholder as its API key; the placeholder proves the request comes
from this session (see :mod:`nonoc.runtime.proxy.auth`) and is worthless anywhere else.

Built-in routes exist for openai, anthropic, gemini and github; policies add their own
with ``CredentialRoute`` entries in the IR.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from nonoc.errors import NonoError

if TYPE_CHECKING:
    from nonoc.ir import CredentialRoute

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_HEADER = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


class RouteError(NonoError):
    """A route that cannot be served (bad name, non-HTTPS upstream, bad header…)."""


@dataclass(frozen=True)
class RouteSpec:
    """One credential route, with its secret already resolved (never shown in ``repr``)."""

    name: str
    upstream: str  # https://host[:port][/base/path]
    header: str = "Authorization"
    value_format: str = "Bearer {secret}"
    secret: str = field(default="", repr=False)
    #: Variables that receive the route's URL in the child (``OPENAI_BASE_URL``…).
    base_url_env: tuple[str, ...] = ()
    #: Appended to the route's URL in those variables (openai clients expect ``/v1``).
    base_url_suffix: str = ""
    #: Variables that receive the placeholder key in the child (``OPENAI_API_KEY``…).
    key_env: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise RouteError(f"invalid credential route name {self.name!r}")
        if not _HEADER.match(self.header):
            raise RouteError(f"invalid header name {self.header!r} for route {self.name}")
        if "{secret}" not in self.value_format:
            raise RouteError(f"route {self.name}: value format must contain '{{secret}}'")
        if any(c in self.secret for c in "\r\n\x00"):
            raise RouteError(f"route {self.name}: the secret contains a line break")
        parts = urlsplit(self.upstream)
        if parts.scheme != "https" or not parts.hostname:
            raise RouteError(f"route {self.name}: upstream must be an https:// URL")
        if parts.query or parts.fragment or parts.username or parts.password:
            raise RouteError(f"route {self.name}: upstream must not carry a query or userinfo")

    @property
    def upstream_host(self) -> str:
        """The upstream's host name (lowercase)."""
        return (urlsplit(self.upstream).hostname or "").lower()

    @property
    def upstream_port(self) -> int:
        """The upstream's port (443 unless the URL says otherwise)."""
        return urlsplit(self.upstream).port or 443

    @property
    def upstream_path(self) -> str:
        """The upstream's base path, without a trailing slash ("" for none)."""
        return urlsplit(self.upstream).path.rstrip("/")

    @property
    def host_header(self) -> str:
        """The ``Host`` header for upstream requests."""
        port = self.upstream_port
        return self.upstream_host if port == 443 else f"{self.upstream_host}:{port}"

    def header_value(self) -> str:
        """The auth header's value with the secret in place (plain replace: no format syntax)."""
        return self.value_format.replace("{secret}", self.secret)


@dataclass(frozen=True)
class BuiltinRoute:
    """A built-in route's shape, before its secret is known."""

    upstream: str
    header: str
    value_format: str
    base_url_env: tuple[str, ...]
    key_env: tuple[str, ...]
    base_url_suffix: str = ""


BUILTIN_ROUTES: dict[str, BuiltinRoute] = {
    "openai": BuiltinRoute(
        "https://api.openai.com",
        "Authorization",
        "Bearer {secret}",
        ("OPENAI_BASE_URL",),
        ("OPENAI_API_KEY",),
        base_url_suffix="/v1",
    ),
    "anthropic": BuiltinRoute(
        "https://api.anthropic.com",
        "x-api-key",
        "{secret}",
        ("ANTHROPIC_BASE_URL",),
        ("ANTHROPIC_API_KEY",),
    ),
    "gemini": BuiltinRoute(
        "https://generativelanguage.googleapis.com",
        "x-goog-api-key",
        "{secret}",
        ("GOOGLE_GEMINI_BASE_URL", "GEMINI_BASE_URL"),
        ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
    ),
    "github": BuiltinRoute(
        "https://api.github.com",
        "Authorization",
        "Bearer {secret}",
        ("GITHUB_API_URL",),
        ("GITHUB_TOKEN", "GH_TOKEN"),
    ),
}


def env_prefix(name: str) -> str:
    """``my-service`` → ``MY_SERVICE``: the prefix of a user route's variables."""
    return re.sub(r"[^A-Z0-9]", "_", name.upper())


def builtin_route(name: str, secret: str) -> RouteSpec:
    """The built-in route ``name`` with its secret; raises :class:`RouteError` if unknown."""
    shape = BUILTIN_ROUTES.get(name)
    if shape is None:
        known = ", ".join(sorted(BUILTIN_ROUTES))
        raise RouteError(f"no built-in credential route {name!r} (built-in: {known})")
    return RouteSpec(
        name=name,
        upstream=shape.upstream,
        header=shape.header,
        value_format=shape.value_format,
        secret=secret,
        base_url_env=shape.base_url_env,
        base_url_suffix=shape.base_url_suffix,
        key_env=shape.key_env,
    )


def route_from_ir(route: CredentialRoute, secret: str) -> RouteSpec:
    """A policy's ``CredentialRoute`` as a served route (``NAME_BASE_URL``, ``NAME_API_KEY``)."""
    prefix = env_prefix(route.name)
    return RouteSpec(
        name=route.name,
        upstream=route.upstream,
        header=route.header,
        value_format=route.value_format,
        secret=secret,
        base_url_env=(f"{prefix}_BASE_URL",),
        key_env=(f"{prefix}_API_KEY",),
    )


def select_routes(
    names: Iterable[str],
    policy_routes: Iterable[CredentialRoute],
    resolve_secret: Callable[[str], str],
) -> list[RouteSpec]:
    """The routes ``--proxy-credential NAME…`` asks for, secrets resolved.

    A policy's route of the same name wins over a built-in one. A built-in route's secret
    is read from ``keyring://NAME`` (service ``nono``); a policy route names its own.
    """
    by_name = {route.name: route for route in policy_routes}
    chosen: list[RouteSpec] = []
    for name in dict.fromkeys(names):
        if name in by_name:
            ir_route = by_name[name]
            chosen.append(route_from_ir(ir_route, resolve_secret(ir_route.secret_ref)))
        else:
            if name not in BUILTIN_ROUTES:
                builtin_route(name, "")  # raises with the list of known routes
            chosen.append(builtin_route(name, resolve_secret(f"keyring://{name}")))
    return chosen
