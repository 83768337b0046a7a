"""Byte plumbing: connecting to checked addresses, and two-way tunnels with an idle bound."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from nonoc.runtime.proxy.http1 import CHUNK
from nonoc.runtime.proxy.resolver import SocketAddress
from nonoc.runtime.proxy.sni import SniMismatch

#: Read buffer of upstream connections (asyncio pauses reading at twice this). Larger than
#: the client side's (which bounds request heads): downloads are the bulk of the traffic.
UPSTREAM_BUFFER = 256 * 1024


@dataclass
class Upstream:
    """An open connection to an upstream, and the address it reached."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    address: SocketAddress
    key: tuple[str, int, bool]  # (host, port, tls): which requests may reuse it

    def close(self) -> None:
        """Close without waiting (an abort for TLS, whose goodbye may never be answered)."""
        transport = self.writer.transport
        if transport.get_extra_info("sslcontext") is not None:
            transport.abort()
        else:
            transport.close()


async def open_upstream(
    addresses: Sequence[SocketAddress],
    key: tuple[str, int, bool],
    timeout: float,
    tls: ssl.SSLContext | None = None,
    server_hostname: str | None = None,
) -> Upstream:
    """Connect to the first address that answers, within ``timeout`` for all of them.

    Only numeric addresses reach the socket layer (``AI_NUMERICHOST``): no lookup happens
    here, so the addresses the gate checked are the ones connected to.
    """
    last_error: Exception = OSError("no address to connect to")
    deadline = time.monotonic() + timeout
    for address, port in addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            async with asyncio.timeout(remaining):
                reader, writer = await asyncio.open_connection(
                    str(address),
                    port,
                    ssl=tls,
                    server_hostname=server_hostname if tls else None,
                    flags=socket.AI_NUMERICHOST,
                    limit=UPSTREAM_BUFFER,
                )
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            last_error = exc
            continue
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return Upstream(reader, writer, (address, port), key)
    raise last_error


async def tunnel(
    client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    server: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    idle: float,
    inspect_first: Callable[[bytes], Awaitable[bytes]] | None = None,
) -> None:
    """Copy bytes both ways until both sides are done or nothing moves for ``idle`` seconds.

    A side that closes its sending half has that passed on (``write_eof``) and the other
    direction keeps flowing, so half-closing clients work; the idle bound covers both
    directions together, so a long download with a silent client is not cut.
    ``inspect_first`` sees the client's first bytes before they go upstream and returns
    what to send (it may read more, or raise to end the tunnel); the server's bytes flow
    meanwhile, so server-speaks-first protocols work.
    """
    last = [time.monotonic()]

    async def pipe(
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        inspect: Callable[[bytes], Awaitable[bytes]] | None = None,
    ) -> None:
        while True:
            try:
                async with asyncio.timeout(idle):
                    data = await reader.read(CHUNK)
            except TimeoutError:
                if time.monotonic() - last[0] < idle:
                    continue  # the other direction is busy: this one may wait
                raise
            if not data:
                if writer.can_write_eof():
                    with contextlib.suppress(OSError):
                        writer.write_eof()
                return
            if inspect is not None:
                data, inspect = await inspect(data), None
            last[0] = time.monotonic()
            writer.write(data)
            async with asyncio.timeout(idle):  # a peer that stops reading is bounded too
                await writer.drain()

    upward = asyncio.ensure_future(pipe(client[0], server[1], inspect_first))
    downward = asyncio.ensure_future(pipe(server[0], client[1]))
    try:
        await asyncio.wait({upward, downward}, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        for task in (upward, downward):
            task.cancel()
        await asyncio.gather(upward, downward, return_exceptions=True)
    failure = None if upward.cancelled() else upward.exception()
    if isinstance(failure, SniMismatch):
        raise failure
