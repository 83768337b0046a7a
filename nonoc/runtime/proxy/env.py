"""The environment a sandboxed child needs to use the proxy and the credential routes.

``HTTP_PROXY``/``HTTPS_PROXY`` (both spellings) carry the proxy's URL with the session token
as the password; ``NO_PROXY`` keeps loopback direct, so credential routes and ports opened
with ``--allow-port`` are reached without the proxy. Node needs its own switches:
``NODE_USE_ENV_PROXY=1`` (Node 24 and later read the variables above) and the
``GLOBAL_AGENT_*`` variables (the ``global-agent`` package). ``ALL_PROXY`` is never set and
is removed from the inherited environment: some clients read it as a SOCKS proxy, which
this proxy is not.
"""

from __future__ import annotations

from collections.abc import Iterable

from nonoc.runtime.proxy.auth import placeholder_key
from nonoc.runtime.proxy.routes import RouteSpec

#: Inherited variables ``nono run`` must remove from the child's environment in proxy mode.
PROXY_ENV_STRIP: tuple[str, ...] = ("ALL_PROXY", "all_proxy", "FTP_PROXY", "ftp_proxy")

NO_PROXY = "localhost,127.0.0.1,::1"
PROXY_USER = "nono"


def authority(host: str, port: int) -> str:
    """``host:port``, with an IPv6 address in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def proxy_url(host: str, port: int, token: str) -> str:
    """The proxy's URL with the session token as the Basic password."""
    return f"http://{PROXY_USER}:{token}@{authority(host, port)}"


def route_url(host: str, port: int, name: str) -> str:
    """The base URL of credential route ``name``."""
    return f"http://{authority(host, port)}/{name}"


def proxy_env(host: str, port: int, token: str, routes: Iterable[RouteSpec] = ()) -> dict[str, str]:
    """The variables to set in the child (sorted keys). Never contains a real secret."""
    url = proxy_url(host, port, token)
    env = {
        "HTTP_PROXY": url,
        "HTTPS_PROXY": url,
        "http_proxy": url,
        "https_proxy": url,
        "NO_PROXY": NO_PROXY,
        "no_proxy": NO_PROXY,
        "NODE_USE_ENV_PROXY": "1",
        "GLOBAL_AGENT_HTTP_PROXY": url,
        "GLOBAL_AGENT_HTTPS_PROXY": url,
        "GLOBAL_AGENT_NO_PROXY": NO_PROXY,
    }
    placeholder = placeholder_key(token)
    for route in routes:
        base = route_url(host, port, route.name) + route.base_url_suffix
        for name in route.base_url_env:
            env[name] = base
        for name in route.key_env:
            env[name] = placeholder
    return dict(sorted(env.items()))
