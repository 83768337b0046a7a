"""The TLS server name a tunnel's client asks for, checked against the CONNECT host.

A CONNECT to an allowed host reaches that host's address; but when the address belongs to a
CDN, the TLS ClientHello's server name (SNI) decides which site answers. A client could
CONNECT to an allowed name and then ask, in its ClientHello, for another site served from
the same addresses. So the proxy reads the first bytes the client sends into a tunnel: if
they are a TLS ClientHello with a server name, that name must be the CONNECT host.
Bytes that are not TLS (ssh, a server-speaks-first protocol) pass untouched; a ClientHello
without a server name (a client connecting to an address) passes too.
"""

from __future__ import annotations

import asyncio

from nonoc.runtime.proxy.addresses import HostError, parse_host

_MAX_HELLO = 64 * 1024  # a ClientHello larger than this is not one a real client sends


class SniMismatch(Exception):
    """The ClientHello names another host than the CONNECT (or cannot be read)."""


def server_name(hello: bytes) -> str | None:
    """The SNI host name of a complete ClientHello handshake message, or None if absent.

    ``hello`` is the handshake message (type, 3-byte length, body) without record headers.
    Raises ``ValueError`` when the message is malformed.
    """
    if len(hello) < 4 or hello[0] != 1:
        raise ValueError("not a ClientHello")
    body = memoryview(hello)[4 : 4 + int.from_bytes(hello[1:4], "big")]
    pos = 2 + 32  # legacy_version, random
    pos += 1 + body[pos]  # session id
    pos += 2 + int.from_bytes(body[pos : pos + 2], "big")  # cipher suites
    pos += 1 + body[pos]  # compression methods
    if pos >= len(body):
        return None  # no extensions at all
    end = pos + 2 + int.from_bytes(body[pos : pos + 2], "big")
    pos += 2
    if end > len(body):
        raise ValueError("extensions overrun the ClientHello")
    while pos + 4 <= end:
        kind = int.from_bytes(body[pos : pos + 2], "big")
        size = int.from_bytes(body[pos + 2 : pos + 4], "big")
        data = body[pos + 4 : pos + 4 + size]
        pos += 4 + size
        if kind != 0:
            continue
        # server_name_list: 2-byte length, then entries (type 0 = host_name, 2-byte length)
        at = 2
        while at + 3 <= len(data):
            name_type, length = data[at], int.from_bytes(data[at + 1 : at + 3], "big")
            name = bytes(data[at + 3 : at + 3 + length])
            at += 3 + length
            if name_type == 0:
                return name.decode("ascii")
        raise ValueError("empty server_name extension")
    return None


def _handshake(buffer: bytes) -> bytes | None:
    """The first handshake message carried by the TLS records in ``buffer``, if complete."""
    handshake = bytearray()
    offset = 0
    while offset + 5 <= len(buffer):
        if buffer[offset] != 0x16:
            raise SniMismatch("TLS handshake interrupted by another record type")
        length = int.from_bytes(buffer[offset + 3 : offset + 5], "big")
        if offset + 5 + length > len(buffer):
            return None
        handshake += buffer[offset + 5 : offset + 5 + length]
        offset += 5 + length
        if len(handshake) >= 4 and len(handshake) >= 4 + int.from_bytes(handshake[1:4], "big"):
            return bytes(handshake)
    return None


async def check_first_flight(
    initial: bytes, reader: asyncio.StreamReader, connect_host: str, timeout: float
) -> bytes:
    """Given the client's first bytes in a tunnel, check a ClientHello's SNI.

    Reads more from ``reader`` until the ClientHello is whole; returns every byte read
    (``initial`` included) for the caller to forward. Raises :class:`SniMismatch` if the
    ClientHello names another host, is malformed, or is not finished within ``timeout``.
    """
    if not initial.startswith(b"\x16"):  # not a TLS handshake record: nothing to check
        return initial
    buffer = bytearray(initial)
    try:
        async with asyncio.timeout(timeout):
            while (hello := _handshake(bytes(buffer))) is None:
                if len(buffer) > _MAX_HELLO:
                    raise SniMismatch("ClientHello too large")
                more = await reader.read(_MAX_HELLO)
                if not more:
                    raise SniMismatch("the client closed in the middle of its ClientHello")
                buffer += more
    except TimeoutError as exc:
        raise SniMismatch("the ClientHello did not arrive in time") from exc
    try:
        name = server_name(hello)
    except (ValueError, IndexError, UnicodeDecodeError) as exc:
        raise SniMismatch(f"malformed ClientHello: {exc}") from exc
    if name is not None and _normal(name) != _normal(connect_host):
        raise SniMismatch(f"TLS server name {name!r} is not the CONNECT host {connect_host!r}")
    return bytes(buffer)


def _normal(host: str) -> str:
    try:
        return parse_host(host).name
    except HostError:
        return host.lower()
