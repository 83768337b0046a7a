"""What every client session of one proxy shares: config, gate, routes, token, own address."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field

from nonoc.runtime.proxy.addresses import AddressClass, HostError, classify, parse_host
from nonoc.runtime.proxy.config import ProxyConfig
from nonoc.runtime.proxy.gate import Gate
from nonoc.runtime.proxy.routes import RouteSpec


@dataclass
class ProxyState:
    """Built once per proxy; read by every session (on the proxy's single event loop)."""

    config: ProxyConfig
    gate: Gate
    token: str
    routes: dict[str, RouteSpec]
    ports: set[int] = field(default_factory=set)  # ports this proxy listens on
    _tls: ssl.SSLContext | None = None

    def is_self(self, host: str, port: int) -> bool:
        """Whether ``host:port`` is this proxy (a client sent a route URL through the proxy)."""
        if port not in self.ports:
            return False
        if host.lower() in ("localhost", "localhost."):
            return True
        try:
            parsed = parse_host(host)
        except HostError:
            return False
        return parsed.address is not None and classify(parsed.address) is AddressClass.LOOPBACK

    def upstream_tls(self) -> ssl.SSLContext:
        """The TLS context for credential routes: the configured one, or the system's."""
        if self.config.upstream_tls is not None:
            return self.config.upstream_tls
        if self._tls is None:
            # Full verification against the system trust store: certificate and host name.
            self._tls = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        return self._tls
