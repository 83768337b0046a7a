"""The allowlist network proxy that ``nono run`` starts in its parent process.

In ``network proxy`` mode the sandboxed child can reach one TCP port: this proxy's, on
127.0.0.1 (Landlock's connect rule; seccomp refuses UDP and raw sockets). The proxy lets
through only the hosts on the allowlist, resolves names itself, refuses cloud metadata
endpoints whatever the allowlist says, records every decision, and serves credential
routes that add secrets the child never sees. Standard library only (asyncio).

Use from ``nono run``::

    from nonoc.runtime.proxy import ProxyConfig, ProxyServer, PROXY_ENV_STRIP

    config = ProxyConfig(
        allow_hosts=["api.anthropic.com", "*.githubusercontent.com"],
        credential_routes=select_routes(["anthropic"], policy.network.credential_routes,
                                        credentials.resolve_secret),
        on_event=audit.record,            # called with each ProxyEvent, on the proxy thread
    )
    proxy = ProxyServer(config)           # bad patterns/routes raise NonoError here
    host, port, token = proxy.start()     # listening before it returns; runs in a thread
    # Landlock: allow connect to `port` only.  Environment: remove PROXY_ENV_STRIP, then
    env.update(proxy.child_env())         # HTTP(S)_PROXY, NO_PROXY, node variables, routes
    ... spawn the child, wait for it ...
    proxy.stop()                          # or use `with ProxyServer(config) as proxy:`

``ProxyServer.adopt_listener(sock)`` serves on an extra listening socket made elsewhere:
with it a child in a private network namespace can reach the proxy (see docs/network.md).

Modules: ``addresses`` (host parsing, metadata classes), ``allowlist``, ``resolver``,
``gate`` (the decision), ``http1`` (framing), ``relay`` (connect, tunnel), ``sni`` (a
tunnel's TLS server name must be the CONNECT host), ``session``
(one client connection), ``routes`` (credential routes), ``auth`` (session token),
``env`` (the child's variables), ``events``, ``config``, ``server``.
"""

from __future__ import annotations

from nonoc.runtime.proxy.addresses import AddressClass, classify, parse_host
from nonoc.runtime.proxy.allowlist import HostAllowlist, PatternError
from nonoc.runtime.proxy.config import Limits, ProxyConfig
from nonoc.runtime.proxy.env import PROXY_ENV_STRIP, proxy_env
from nonoc.runtime.proxy.events import ProxyEvent, Reason
from nonoc.runtime.proxy.resolver import MapResolver, ResolveError, Resolver, SystemResolver
from nonoc.runtime.proxy.routes import (
    BUILTIN_ROUTES,
    RouteError,
    RouteSpec,
    builtin_route,
    route_from_ir,
    select_routes,
)
from nonoc.runtime.proxy.server import ProxyServer

__all__ = [
    "BUILTIN_ROUTES",
    "PROXY_ENV_STRIP",
    "AddressClass",
    "HostAllowlist",
    "Limits",
    "MapResolver",
    "PatternError",
    "ProxyConfig",
    "ProxyEvent",
    "ProxyServer",
    "Reason",
    "ResolveError",
    "Resolver",
    "RouteError",
    "RouteSpec",
    "SystemResolver",
    "builtin_route",
    "classify",
    "parse_host",
    "proxy_env",
    "route_from_ir",
    "select_routes",
]
