"""What one proxy session is allowed to do, and its limits."""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field

from nonoc.runtime.proxy.events import EventSink
from nonoc.runtime.proxy.resolver import Resolver, SystemResolver
from nonoc.runtime.proxy.routes import RouteSpec


@dataclass(frozen=True)
class Limits:
    """Bounds on what a client can make the proxy hold. Seconds unless said otherwise."""

    #: Time to send a whole request head (also the keep-alive wait between requests).
    head_timeout: float = 15.0
    #: Time a tunnel or a body may go without a byte in either direction.
    idle_timeout: float = 300.0
    #: Time to resolve a name and open the upstream connection (TLS included).
    connect_timeout: float = 15.0
    #: Connections served at once; more are answered 503 and closed.
    max_connections: int = 256


@dataclass(frozen=True)
class ProxyConfig:
    """One session's proxy: which hosts, which credential routes, how names resolve.

    ``allow_hosts``: exact names and ``*.suffix`` patterns (see ``allowlist``).
    ``credential_routes``: reverse-proxy routes with their secrets resolved.
    ``resolver``: how names become addresses (the system's by default; tests pass a map).
    ``on_event``: called with every :class:`~nonoc.runtime.proxy.events.ProxyEvent`, on
    the proxy's thread.
    ``allow_loopback``: let allowlisted names that resolve to this machine through. Off by
    default so that a name an attacker controls cannot be pointed at local services.
    Metadata and link-local addresses are refused whatever this and the allowlist say.
    ``upstream_tls``: the TLS context for credential routes' upstreams; None means the
    system's trust store with full verification. Tests pass a context trusting a test CA.
    ``check_tls_server_name``: end a tunnel whose TLS ClientHello asks for another host
    than the CONNECT named (a CDN would otherwise serve that other site).
    ``bind_host``/``port``: where to listen (port 0: the kernel picks one).
    ``token``: the session token; None generates a fresh one.
    """

    allow_hosts: Sequence[str] = ()
    credential_routes: Sequence[RouteSpec] = ()
    resolver: Resolver = field(default_factory=SystemResolver)
    on_event: EventSink | None = None
    allow_loopback: bool = False
    upstream_tls: ssl.SSLContext | None = None
    check_tls_server_name: bool = True
    bind_host: str = "127.0.0.1"
    port: int = 0
    token: str | None = None
    limits: Limits = field(default_factory=Limits)
