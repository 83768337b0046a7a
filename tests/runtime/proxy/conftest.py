"""Fixtures for the proxy tests: a test CA, local upstreams, and a proxy factory."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from proxy_helpers import FAST, EchoTCP, TestCA, Upstream, make_ca

from nonoc.runtime.proxy import (
    MapResolver,
    ProxyConfig,
    ProxyEvent,
    ProxyServer,
)

#: Names the test certificate is valid for (the built-in routes' upstreams among them).
TLS_NAMES = [
    "secure.test",
    "api.openai.com",
    "api.anthropic.com",
    "api.github.com",
    "generativelanguage.googleapis.com",
    "custom.test",
]


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    """A CA and a server certificate for TLS_NAMES."""
    return make_ca(tmp_path_factory.mktemp("ca"), TLS_NAMES)


@pytest.fixture(scope="session")
def http_upstream() -> Iterator[Upstream]:
    """A plain HTTP echo server."""
    server = Upstream()
    yield server
    server.close()


@pytest.fixture(scope="session")
def tls_upstream(test_ca: TestCA) -> Iterator[Upstream]:
    """An HTTPS echo server with the test CA's certificate."""
    server = Upstream(test_ca.server_context())
    yield server
    server.close()


@pytest.fixture(scope="session")
def echo_tcp() -> Iterator[EchoTCP]:
    """A TCP echo server for tunnels."""
    server = EchoTCP()
    yield server
    server.close()


class ProxyUnderTest:
    """A started proxy, the events it emitted, and its address."""

    def __init__(self, server: ProxyServer, events: list[ProxyEvent]) -> None:
        self.server = server
        self.events = events
        self.host, self.port = server.address
        self.token = server.token

    def last(self) -> ProxyEvent:
        return self.events[-1]


@pytest.fixture
def make_proxy(
    http_upstream: Upstream, tls_upstream: Upstream, echo_tcp: EchoTCP
) -> Iterator[Callable[..., ProxyUnderTest]]:
    """Start proxies with a resolver map pointing test names at the local servers."""
    started: list[ProxyServer] = []

    def factory(**overrides: Any) -> ProxyUnderTest:
        events: list[ProxyEvent] = []
        table: dict[str, Any] = {
            "plain.test": "127.0.0.1",
            "other.test": "127.0.0.1",
            "echo.test": "127.0.0.1",
            "secure.test": "127.0.0.1",
            "sub.wild.test": "127.0.0.1",
            "api.openai.com:443": f"127.0.0.1:{tls_upstream.port}",
            "api.anthropic.com:443": f"127.0.0.1:{tls_upstream.port}",
            "api.github.com:443": f"127.0.0.1:{tls_upstream.port}",
            "generativelanguage.googleapis.com:443": f"127.0.0.1:{tls_upstream.port}",
            "custom.test:8443": f"127.0.0.1:{tls_upstream.port}",
            "linklocal.test": "169.254.169.254",
            "mapped.test": "::ffff:169.254.169.254",
            "v6linklocal.test": "fe80::1",
            "ec2v6.test": "fd00:ec2::254",
            "mixed.test": ["127.0.0.1", "169.254.10.10"],
            "decimal.test": "169.254.0.1",
        }
        table.update(overrides.pop("resolver_map", {}))
        config = ProxyConfig(
            allow_hosts=overrides.pop(
                "allow_hosts", ["plain.test", "echo.test", "secure.test", "*.wild.test"]
            ),
            resolver=overrides.pop("resolver", None) or MapResolver(table),
            on_event=events.append,
            allow_loopback=overrides.pop("allow_loopback", True),
            limits=overrides.pop("limits", FAST),
            **overrides,
        )
        server = ProxyServer(config)
        server.start()
        started.append(server)
        return ProxyUnderTest(server, events)

    yield factory
    for server in started:
        server.stop()
