"""Name resolution for the proxy: the system's resolver, or a fixed map for tests.

The proxy — not the sandboxed child — resolves names, so the child needs no DNS at all
and the proxy can check the addresses before connecting to them. A resolver turns a
``(name, port)`` into socket addresses ``(ip, port)``; the port is part of the answer so
that a test map can send ``api.openai.com:443`` to a local server on another port.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Mapping
from typing import Protocol

from nonoc.runtime.proxy.addresses import IPAddress

SocketAddress = tuple[IPAddress, int]


class ResolveError(Exception):
    """The name has no address (or the resolver failed)."""


class Resolver(Protocol):
    """Anything with this coroutine can resolve names for the proxy."""

    async def resolve(self, name: str, port: int) -> list[SocketAddress]:
        """Return the addresses of ``name`` (never empty), or raise :class:`ResolveError`."""
        ...


class SystemResolver:
    """The host's resolver (``getaddrinfo``), run in the event loop's executor."""

    async def resolve(self, name: str, port: int) -> list[SocketAddress]:
        """Resolve through ``getaddrinfo`` (TCP), keeping the resolver's order."""
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(name, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise ResolveError(f"cannot resolve {name}: {exc}") from exc
        found: list[SocketAddress] = []
        for family, _type, _proto, _canon, sockaddr in infos:
            if family not in (socket.AF_INET, socket.AF_INET6):
                continue
            entry = (ipaddress.ip_address(str(sockaddr[0]).split("%")[0]), int(sockaddr[1]))
            if entry not in found:
                found.append(entry)
        if not found:
            raise ResolveError(f"{name} has no address")
        return found


class MapResolver:
    """A fixed table: ``{"name": "ip"}`` or ``{"name:port": "ip:port"}``; nothing else resolves.

    Keys are lowercase names, optionally with a port; values are an address, an
    ``address:port`` (IPv6 in brackets), or a list of them. A ``name:port`` key wins over
    ``name``. Used by tests, which have no DNS.
    """

    def __init__(self, table: Mapping[str, str | list[str]]) -> None:
        self._table: dict[str, list[str]] = {
            key.lower(): [value] if isinstance(value, str) else list(value)
            for key, value in table.items()
        }

    async def resolve(self, name: str, port: int) -> list[SocketAddress]:
        """Look ``name`` up in the table."""
        values = self._table.get(f"{name}:{port}") or self._table.get(name)
        if not values:
            raise ResolveError(f"cannot resolve {name}: not in the resolver map")
        return [_split(value, port) for value in values]


def _split(value: str, default_port: int) -> SocketAddress:
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        return ipaddress.ip_address(host), int(rest[1:]) if rest.startswith(":") else default_port
    if value.count(":") == 1:
        host, _, port = value.partition(":")
        return ipaddress.ip_address(host), int(port)
    return ipaddress.ip_address(value), default_port
