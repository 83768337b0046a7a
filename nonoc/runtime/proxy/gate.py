"""The decision: may this request reach this host, and at which addresses?

Order of checks, first refusal wins:

1. the host must parse (a DNS name or an address in any spelling);
2. a metadata service's name is refused;
3. an address literal is classified (metadata, loopback, not unicast);
4. the host must match the allowlist (credential routes skip this: the route is the grant);
5. the name is resolved by the proxy's resolver;
6. every address it resolves to is classified like a literal: one bad address refuses the
   whole name, since a name that mixes public and metadata addresses is an attack.

An admitted request carries the checked addresses; the caller connects to those and
nothing else, so the answer cannot change between the check and the connect.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from nonoc.runtime.proxy.addresses import (
    AddressClass,
    HostError,
    classify,
    is_metadata_name,
    parse_host,
)
from nonoc.runtime.proxy.allowlist import HostAllowlist
from nonoc.runtime.proxy.events import Reason
from nonoc.runtime.proxy.resolver import ResolveError, Resolver, SocketAddress

_CLASS_REASON = {
    AddressClass.METADATA: Reason.METADATA,
    AddressClass.LOOPBACK: Reason.LOOPBACK,
    AddressClass.NOT_UNICAST: Reason.NOT_UNICAST,
}


@dataclass(frozen=True)
class Admission:
    """The gate's answer for one ``host:port``."""

    host: str  # normalised host (or the raw text when it did not parse)
    port: int
    allowed: bool
    reason: Reason
    detail: str
    addresses: tuple[SocketAddress, ...] = field(default=())
    refused_address: str = ""


class Gate:
    """Applies the allowlist, the metadata rules and resolution to one destination."""

    def __init__(
        self,
        allowlist: HostAllowlist,
        resolver: Resolver,
        *,
        allow_loopback: bool,
        resolve_timeout: float,
    ) -> None:
        self._allowlist = allowlist
        self._resolver = resolver
        self._allow_loopback = allow_loopback
        self._resolve_timeout = resolve_timeout

    def _refused(self, cls: AddressClass) -> bool:
        if cls is AddressClass.PUBLIC:
            return False
        return not (cls is AddressClass.LOOPBACK and self._allow_loopback)

    async def admit(self, host_text: str, port: int, *, route: str = "") -> Admission:
        """Decide for ``host_text:port``; ``route`` names the credential route, if any."""
        if not 0 < port < 65536:
            return Admission(host_text, port, False, Reason.BAD_REQUEST, "invalid port")
        try:
            host = parse_host(host_text)
        except HostError as exc:
            return Admission(host_text, port, False, Reason.BAD_REQUEST, str(exc))
        name = host.name
        if is_metadata_name(name):
            return Admission(name, port, False, Reason.METADATA, f"{name} is a metadata service")
        if host.address is not None:
            cls = classify(host.address)
            if self._refused(cls):
                detail = f"{host.address} is a {cls.value} address"
                return Admission(name, port, False, _CLASS_REASON[cls], detail, (), name)
        if route:
            granted = f"credential route {route}"
            reason = Reason.ROUTE
        else:
            pattern = self._allowlist.match(host)
            if pattern is None:
                detail = f"{name} is not allowed"
                return Admission(name, port, False, Reason.NOT_ALLOWLISTED, detail)
            granted = f"allowed by {pattern}"
            reason = Reason.ALLOWLISTED
        if host.address is not None:
            return Admission(name, port, True, reason, granted, ((host.address, port),))
        try:
            async with asyncio.timeout(self._resolve_timeout):
                found = await self._resolver.resolve(name, port)
        except (ResolveError, TimeoutError) as exc:
            detail = str(exc) or f"resolving {name} timed out"
            return Admission(name, port, False, Reason.UNRESOLVED, detail)
        for address, _port in found:
            cls = classify(address)
            if self._refused(cls):
                detail = f"{name} resolves to {address}, a {cls.value} address"
                return Admission(name, port, False, _CLASS_REASON[cls], detail, (), str(address))
        return Admission(name, port, True, reason, granted, tuple(found))
