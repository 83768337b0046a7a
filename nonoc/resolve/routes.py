"""Credential routes written in a proxy block: checked here, merged like scalars.

```nono
network proxy {
  credential "example" {
    upstream "https://api.example.com/v1"   # required: where requests go, over verified TLS
    secret   "keyring://example"            # required: keyring://NAME, env://VAR, file:///path
    header   "x-api-key"                    # default "Authorization"
    format   "{secret}"                     # default "Bearer {secret}"
  }
}
```

A route is keyed by its name: a child profile's route of the same name replaces its
parent's (as a scalar setting does), and two different definitions side by side are a
conflict. The secret is only *named* here; ``nono run`` reads it when it starts the proxy,
so a bundle never holds one. The checks mirror what the proxy's ``RouteSpec`` accepts, so
that a bad route fails at compile time with its line rather than when an agent starts.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from nonoc import ir
from nonoc.errors import NonoError, did_you_mean
from nonoc.resolve.layer import Layer, Scalar
from nonoc.syntax import ast

#: The scalar key prefix a route is stored under in a ``Layer``.
PREFIX = "route."

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_HEADER = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_REF_SCHEMES = ("keyring", "env", "file")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ENTRY_NAME = re.compile(r"^[A-Za-z0-9_.@+-][A-Za-z0-9_.@+/-]*$")
FIELDS = ("upstream", "secret", "header", "format")
DEFAULTS = {"header": "Authorization", "format": "Bearer {secret}"}


def lower_route(route: ast.CredentialRouteDef, layer: Layer, prov: ir.Provenance) -> None:
    """Check one ``credential`` block and store it in ``layer`` as the scalar ``route.NAME``."""
    name = route.name.value
    if not _NAME.match(name):
        raise NonoError(
            f'bad credential route name "{name}": lowercase letters, digits, "-" and "_", '
            "starting with a letter or digit",
            route.name.span,
        )
    values: dict[str, ast.Text] = {}
    for field in route.fields:
        key = field.key.text
        if key not in FIELDS:
            hint = did_you_mean(key, set(FIELDS)) or "; expected " + ", ".join(FIELDS)
            raise NonoError(f"unknown credential route field '{key}'{hint}", field.key.span)
        if key in values:
            raise NonoError(f"'{key}' is given twice in credential route \"{name}\"", field.span)
        values[key] = field.value
    for required in ("upstream", "secret"):
        if required not in values:
            raise NonoError(f"credential route \"{name}\" needs '{required}'", route.span)
    _check_upstream(values["upstream"])
    _check_secret(values["secret"])
    header = values["header"].value if "header" in values else DEFAULTS["header"]
    if not _HEADER.match(header):
        raise NonoError(f'bad header name "{header}"', values["header"].span)
    value_format = values["format"].value if "format" in values else DEFAULTS["format"]
    if "{secret}" not in value_format or any(c in value_format for c in "\r\n\x00"):
        raise NonoError(
            "a credential route's format is one line containing '{secret}'",
            values["format"].span,
        )
    upstream = values["upstream"].value.rstrip("/")
    secret = values["secret"].value
    layer.scalars[PREFIX + name] = Scalar(
        (upstream, header, value_format, secret), f'credential "{name}"', route.span, prov
    )


def merged_routes(layer: Layer) -> tuple[ir.CredentialRoute, ...]:
    """The routes a merged layer holds, sorted by name."""
    routes = []
    for key in sorted(k for k in layer.scalars if k.startswith(PREFIX)):
        scalar = layer.scalars[key]
        upstream, header, value_format, secret = scalar.value
        routes.append(
            ir.CredentialRoute(
                name=key.removeprefix(PREFIX),
                upstream=upstream,
                header=header,
                value_format=value_format,
                secret_ref=secret,
                provenance=scalar.provenance,
            )
        )
    return tuple(routes)


def _check_upstream(text: ast.Text) -> None:
    try:
        parts = urlsplit(text.value)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        raise NonoError(f'bad upstream URL "{text.value}": {exc}', text.span) from None
    if parts.scheme != "https" or not parts.hostname:
        raise NonoError(
            f'a credential route\'s upstream must be an https:// URL, not "{text.value}"',
            text.span,
            notes=("the proxy adds the secret; it only sends it over verified TLS",),
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise NonoError(
            f'the upstream URL "{text.value}" must not carry a query, fragment or user',
            text.span,
        )


def _check_secret(text: ast.Text) -> None:
    ref = text.value
    scheme, sep, rest = ref.partition("://")
    if not sep:
        scheme, rest = "keyring", ref
    if scheme not in _REF_SCHEMES:
        raise NonoError(
            f'unknown secret reference "{ref}"',
            text.span,
            notes=("use keyring://NAME, env://VAR or file:///path",),
        )
    good = {
        "keyring": bool(_ENTRY_NAME.match(rest)),
        "env": bool(_ENV_NAME.match(rest)),
        "file": rest.startswith(("/", "localhost/")),
    }[scheme]
    if not good:
        raise NonoError(f'bad secret reference "{ref}"', text.span)
