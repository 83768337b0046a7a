"""One client connection: read requests, decide, tunnel or forward, record the decision.

Three kinds of request reach the proxy:

* ``CONNECT host:port`` — a tunnel (HTTPS and anything else over TCP) to an allowed host;
* ``GET http://host/path`` (absolute form) — plain HTTP, forwarded request by request;
* ``GET /NAME/path`` (origin form) — a credential route, forwarded to its upstream over TLS.

Both forwarding kinds keep the client's connection alive across requests, and each request
on it is checked on its own: one allowed request never opens the way for the next.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from urllib.parse import urlsplit

from nonoc.runtime.proxy.auth import check_placeholder, check_proxy_authorization
from nonoc.runtime.proxy.events import EventKind, ProxyEvent, Reason, emit
from nonoc.runtime.proxy.gate import Admission
from nonoc.runtime.proxy.http1 import (
    ClientGone,
    Head,
    HttpError,
    error_response,
    parse_head,
    read_head,
    relay_body,
    request_framing,
    response_framing,
    serialize,
    strip_hop_by_hop,
    wants_close,
)
from nonoc.runtime.proxy.relay import Upstream, open_upstream, tunnel
from nonoc.runtime.proxy.routes import RouteSpec
from nonoc.runtime.proxy.sni import SniMismatch, check_first_flight
from nonoc.runtime.proxy.state import ProxyState

_log = logging.getLogger("nono.proxy")
_AUTH_CHALLENGE = [("Proxy-Authenticate", 'Basic realm="nono"')]


class ClientSession:
    """Serves one accepted client connection until it closes, errs or idles out."""

    def __init__(
        self, state: ProxyState, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.state = state
        self.reader = reader
        self.writer = writer
        peer = writer.get_extra_info("peername")
        self.client = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer or "")
        self.upstream: Upstream | None = None
        self.responded = False  # whether the current request got any response bytes

    async def run(self) -> None:
        """The request loop; never raises."""
        limits = self.state.config.limits
        try:
            while True:
                self.responded = False
                async with asyncio.timeout(limits.head_timeout):
                    raw = await read_head(self.reader)
                head = parse_head(raw, request=True)
                if not await self.handle(head):
                    break
        except HttpError as exc:
            if not self.responded:
                self.event("http", "", 0, False, Reason.BAD_REQUEST, str(exc), status=exc.status)
                await self.send_error(exc.status, str(exc))
        except (ClientGone, TimeoutError, ConnectionError, OSError):
            pass
        except Exception:  # a bug must cost one connection, never the proxy
            _log.exception("proxy session failed")
            await self.send_error(500, "nono proxy: internal error")
        finally:
            if self.upstream is not None:
                self.upstream.close()
            await close_writer(self.writer)

    # -- dispatch ---------------------------------------------------------------------------

    async def handle(self, head: Head) -> bool:
        """Serve one request; return whether the connection may carry another."""
        method, target, _version = head.first
        if method == "CONNECT":
            await self.connect(head, target)
            return False
        if target.startswith("/"):
            return await self.route(head, target)
        if target[:7].lower() == "http://":
            try:
                parts = urlsplit(target)
                host, port = parts.hostname or "", parts.port or 80
            except ValueError as exc:
                raise HttpError(400, "malformed URL") from exc
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            if self.state.is_self(host, port):
                return await self.route(head, path)
            authority = parts.netloc.rpartition("@")[2]
            return await self.forward_plain(head, authority, host, port, path)
        if target[:8].lower() == "https://":
            raise HttpError(400, "use CONNECT for https:// URLs")
        raise HttpError(400, "unsupported request target")

    def authorized(self, head: Head) -> bool:
        """Whether the request carries the session token as proxy credentials."""
        return check_proxy_authorization(head.get("proxy-authorization"), self.state.token)

    async def refuse_auth(self, kind: EventKind, host: str, port: int, method: str) -> None:
        """Answer 407 and record the attempt."""
        self.event(
            kind,
            host,
            port,
            False,
            Reason.AUTH,
            "missing or wrong proxy token",
            method=method,
            status=407,
        )
        await self.send_error(407, "proxy authentication required", _AUTH_CHALLENGE)

    # -- CONNECT ----------------------------------------------------------------------------

    async def connect(self, head: Head, authority: str) -> None:
        """Open a tunnel to an allowed ``host:port``."""
        host, port = split_authority(authority)
        if not self.authorized(head):
            await self.refuse_auth("connect", host, port, "CONNECT")
            return
        admission = await self.state.gate.admit(host, port)
        if not admission.allowed:
            await self.deny("connect", admission, "CONNECT")
            return
        if self.upstream is not None:  # a tunnel always gets a connection of its own
            self.upstream.close()
            self.upstream = None
        try:
            upstream, _ = await self.open(admission, tls=False, route=None)
        except (OSError, TimeoutError) as exc:
            await self.upstream_failed("connect", admission, "CONNECT", exc)
            return
        self.event_admitted("connect", admission, "CONNECT", upstream, status=200)
        self.writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        self.responded = True
        await self.writer.drain()
        self.upstream = None  # the tunnel owns it now
        limits = self.state.config.limits
        inspect = None
        if self.state.config.check_tls_server_name:

            async def inspect(initial: bytes) -> bytes:
                return await check_first_flight(initial, self.reader, host, limits.head_timeout)

        try:
            await tunnel(
                (self.reader, self.writer),
                (upstream.reader, upstream.writer),
                limits.idle_timeout,
                inspect,
            )
        except SniMismatch as exc:
            self.event(
                "connect",
                admission.host,
                admission.port,
                False,
                Reason.SNI_MISMATCH,
                str(exc),
                method="CONNECT",
                address=str(upstream.address[0]),
            )
        finally:
            upstream.close()

    # -- plain HTTP -------------------------------------------------------------------------

    async def forward_plain(
        self, head: Head, authority: str, host: str, port: int, path: str
    ) -> bool:
        """Forward one absolute-form request to an allowed host."""
        method = head.first[0]
        if not self.authorized(head):
            await self.refuse_auth("http", host, port, method)
            return False
        admission = await self.state.gate.admit(host, port)
        if not admission.allowed:
            await self.deny("http", admission, method)
            return False  # the refused request's body is unread: the stream cannot go on
        head.remove("host")
        head.headers.insert(0, ("Host", authority))
        return await self.exchange(head, path, admission, "http", None)

    # -- credential routes ------------------------------------------------------------------

    async def route(self, head: Head, target: str) -> bool:
        """Forward ``/NAME/rest`` to route NAME's upstream with the real secret added."""
        method = head.first[0]
        name, _, rest = target[1:].partition("/")
        name = name.partition("?")[0]
        spec = self.state.routes.get(name)
        if spec is None:
            self.event(
                "route",
                "",
                0,
                False,
                Reason.UNKNOWN_ROUTE,
                f"no route {name!r}",
                method=method,
                route=name[:64],
                status=404,
            )
            await self.send_error(404, f"no credential route {name!r}")
            return False
        host, port = spec.upstream_host, spec.upstream_port
        if not (
            check_placeholder(head.get(spec.header), self.state.token) or self.authorized(head)
        ):
            self.event(
                "route",
                host,
                port,
                False,
                Reason.AUTH,
                "request without the session's placeholder key",
                method=method,
                route=name,
                status=401,
            )
            await self.send_error(401, "this route needs the session's placeholder key")
            return False
        admission = await self.state.gate.admit(host, port, route=name)
        if not admission.allowed:
            await self.deny("route", admission, method, route=name)
            return False
        head.remove("host", spec.header)
        head.headers.insert(0, ("Host", spec.host_header))
        head.headers.append((spec.header, spec.header_value()))
        path = spec.upstream_path + "/" + rest
        return await self.exchange(head, path, admission, "route", spec)

    # -- the request/response exchange ------------------------------------------------------

    async def exchange(
        self, head: Head, path: str, admission: Admission, kind: EventKind, spec: RouteSpec | None
    ) -> bool:
        """Send the request upstream, relay the response; return whether to keep the client."""
        method = head.first[0]
        framing = request_framing(head)
        client_close = wants_close(head)
        strip_hop_by_hop(head)
        head.first = (method, path, "HTTP/1.1")
        idle = self.state.config.limits.idle_timeout
        early: bytes | None = None  # a response head already read (stale-connection probe)
        for _attempt in range(2):
            try:
                upstream, reused = await self.open(admission, tls=spec is not None, route=spec)
            except (OSError, TimeoutError) as exc:
                await self.upstream_failed(kind, admission, method, exc, route=spec)
                return False
            upstream.writer.write(serialize(head))
            if not (reused and framing.kind == "none"):
                break
            # A kept-alive upstream may have closed just now; a bodiless request is safe to
            # send again on a fresh connection, so read its answer here to find out.
            try:
                async with asyncio.timeout(idle):
                    early = await read_head(upstream.reader)
                break
            except (ClientGone, ConnectionError):
                upstream.close()
            except (HttpError, OSError, TimeoutError) as exc:
                upstream.close()
                await self.upstream_failed(kind, admission, method, exc, route=spec)
                return False

        async def send_body() -> None:
            try:
                await relay_body(self.reader, upstream.writer, framing, idle)
            except BaseException:
                upstream.close()  # the upstream sees EOF, so the response wait ends too
                raise

        body: asyncio.Future[None]
        if framing.kind == "none":  # most requests: no task to run
            body = asyncio.get_running_loop().create_future()
            body.set_result(None)
        else:
            body = asyncio.ensure_future(send_body())
        reusable = False
        try:
            while True:
                try:
                    if early is not None:
                        raw, early = early, None
                    else:
                        async with asyncio.timeout(idle):
                            raw = await read_head(upstream.reader)
                    response = parse_head(raw, request=False)
                except (ClientGone, HttpError, OSError, TimeoutError) as exc:
                    failure = body.exception() if body.done() and not body.cancelled() else None
                    if isinstance(failure, HttpError):
                        raise failure from None  # the client's body was malformed: its fault
                    await self.upstream_failed(kind, admission, method, exc, route=spec)
                    return False
                status = int(response.first[1])
                if 100 <= status < 200 and status != 101:
                    strip_hop_by_hop(response)
                    self.writer.write(serialize(response))
                    self.responded = True
                    continue
                break
            if status == 101:
                refused = OSError("protocol upgrades are not forwarded")
                await self.upstream_failed(kind, admission, method, refused, route=spec)
                return False
            self.event_admitted(kind, admission, method, upstream, status=status, route=spec)
            resp_framing = response_framing(response, method)
            keep = not client_close and resp_framing.kind != "eof"
            reusable = keep and not wants_close(response)
            strip_hop_by_hop(response)
            if not keep:
                response.headers.append(("Connection", "close"))
            self.writer.write(serialize(response))
            self.responded = True
            await relay_body(upstream.reader, self.writer, resp_framing, idle)
            if not body.done():
                keep = reusable = False  # the upstream answered before the body ended
            else:
                await body
            return keep
        finally:
            if not body.done():
                body.cancel()
                reusable = False
            await asyncio.gather(body, return_exceptions=True)
            if reusable:
                self.upstream = upstream
            else:
                upstream.close()
                self.upstream = None

    async def open(
        self, admission: Admission, *, tls: bool, route: RouteSpec | None
    ) -> tuple[Upstream, bool]:
        """The kept upstream connection if it matches (``True``), else a new one (``False``)."""
        key = (admission.host, admission.port, tls)
        kept, self.upstream = self.upstream, None
        if kept is not None:
            if kept.key == key and not kept.reader.at_eof() and kept.address in admission.addresses:
                return kept, True
            kept.close()
        context = None
        if tls:
            context = self.state.upstream_tls()
        fresh = await open_upstream(
            admission.addresses,
            key,
            self.state.config.limits.connect_timeout,
            tls=context,
            server_hostname=route.upstream_host if route else None,
        )
        return fresh, False

    # -- answers and events -----------------------------------------------------------------

    async def send_error(
        self, status: int, message: str, extra: list[tuple[str, str]] | None = None
    ) -> None:
        """Write a small error response (if nothing was sent yet for this request)."""
        if self.responded:
            return
        self.responded = True
        with contextlib.suppress(OSError, ConnectionError):
            self.writer.write(error_response(status, message, extra))
            await self.writer.drain()

    async def deny(
        self, kind: EventKind, admission: Admission, method: str, route: str = ""
    ) -> None:
        """Answer 403 (400 for a malformed host) and record the refusal."""
        status = 400 if admission.reason is Reason.BAD_REQUEST else 403
        self.event(
            kind,
            admission.host,
            admission.port,
            False,
            admission.reason,
            admission.detail,
            method=method,
            route=route,
            address=admission.refused_address,
            status=status,
        )
        await self.send_error(status, f"nono proxy: {admission.detail}")

    async def upstream_failed(
        self,
        kind: EventKind,
        admission: Admission,
        method: str,
        exc: BaseException,
        route: RouteSpec | None = None,
    ) -> None:
        """Answer 502/504 for an allowed request whose upstream failed, and record it."""
        status = 504 if isinstance(exc, TimeoutError) else 502
        detail = f"upstream failed: {exc.__class__.__name__}: {exc}".rstrip(": ")
        self.event(
            kind,
            admission.host,
            admission.port,
            True,
            Reason.UPSTREAM_FAILED,
            detail,
            method=method,
            route=route.name if route else "",
            status=status,
        )
        await self.send_error(status, f"nono proxy: {detail}")

    def event_admitted(
        self,
        kind: EventKind,
        admission: Admission,
        method: str,
        upstream: Upstream,
        *,
        status: int,
        route: RouteSpec | None = None,
    ) -> None:
        """Record an allowed request and the address it reached."""
        self.event(
            kind,
            admission.host,
            admission.port,
            True,
            admission.reason,
            admission.detail,
            method=method,
            route=route.name if route else "",
            address=str(upstream.address[0]),
            status=status,
        )

    def event(
        self,
        kind: EventKind,
        host: str,
        port: int,
        allowed: bool,
        reason: Reason,
        detail: str,
        *,
        method: str = "",
        route: str = "",
        address: str = "",
        status: int = 0,
    ) -> None:
        """Deliver one decision event."""
        emit(
            self.state.config.on_event,
            ProxyEvent(
                kind=kind,
                host=host,
                port=port,
                allowed=allowed,
                reason=reason,
                detail=detail,
                method=method,
                route=route,
                address=address,
                client=self.client,
                status=status,
            ),
        )


async def close_writer(writer: asyncio.StreamWriter) -> None:
    """Close a connection, aborting it if the peer does not let the close finish quickly."""
    if writer.transport.get_write_buffer_size():
        writer.transport.abort()  # unsent data to a peer that stopped reading: drop it now
        return
    writer.close()
    try:
        async with asyncio.timeout(2.0):
            await writer.wait_closed()
    except (TimeoutError, OSError, ConnectionError):
        writer.transport.abort()


def split_authority(authority: str) -> tuple[str, int]:
    """``host:port`` / ``[v6]:port`` → (host, port); raises :class:`HttpError` when malformed."""
    host, sep, port_text = authority.rpartition(":")
    if not sep or not port_text.isdigit() or not host or (":" in host and not host.startswith("[")):
        raise HttpError(400, "CONNECT needs host:port")
    return host.strip("[]") if host.startswith("[") else host, int(port_text)
