"""The proxy's lifetime: a background thread with its own event loop, started and stopped
by ``nono run``'s parent process (which meanwhile waits on the child)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from types import TracebackType

from nonoc.runtime.proxy.allowlist import HostAllowlist
from nonoc.runtime.proxy.auth import new_token
from nonoc.runtime.proxy.config import ProxyConfig
from nonoc.runtime.proxy.env import proxy_env, proxy_url, route_url
from nonoc.runtime.proxy.gate import Gate
from nonoc.runtime.proxy.http1 import MAX_HEAD, error_response
from nonoc.runtime.proxy.routes import RouteError
from nonoc.runtime.proxy.session import ClientSession, close_writer
from nonoc.runtime.proxy.state import ProxyState


class ProxyServer:
    """An allowlist proxy for one session. See :mod:`nonoc.runtime.proxy` for the API."""

    def __init__(self, config: ProxyConfig) -> None:
        allowlist = HostAllowlist.from_patterns(config.allow_hosts)  # bad patterns fail here
        routes = {}
        for route in config.credential_routes:
            if route.name in routes:
                raise RouteError(f"credential route {route.name!r} is defined twice")
            routes[route.name] = route
        gate = Gate(
            allowlist,
            config.resolver,
            allow_loopback=config.allow_loopback,
            resolve_timeout=config.limits.connect_timeout,
        )
        self.config = config
        self._state = ProxyState(config, gate, config.token or new_token(), routes)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._servers: list[asyncio.Server] = []
        self._sessions: set[asyncio.Task[None]] = set()
        self._address: tuple[str, int] | None = None

    # -- lifetime ---------------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> tuple[str, int, str]:
        """Listen and serve in a background thread; return ``(host, port, token)``.

        The port is bound before this returns, so the caller can put it in the child's
        Landlock rules and environment before the child exists.
        """
        if self._thread is not None:
            raise RuntimeError("proxy already started")
        ready = threading.Event()
        failure: list[BaseException] = []

        def main() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                try:
                    loop.run_until_complete(self._listen())
                except BaseException as exc:  # reported to start()'s caller
                    failure.append(exc)
                    return
                finally:
                    ready.set()
                loop.run_forever()
                loop.run_until_complete(self._drain())
            finally:
                loop.close()

        self._thread = threading.Thread(target=main, name="nono-proxy", daemon=True)
        self._thread.start()
        if not ready.wait(timeout):
            raise RuntimeError("proxy did not start in time")
        if failure:
            self._thread.join()
            self._thread = None
            raise failure[0]
        assert self._address is not None
        return self._address[0], self._address[1], self.token

    def stop(self, timeout: float = 5.0) -> None:
        """Stop listening, end every connection, and join the thread. Idempotent."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        self._thread = None

    def adopt_listener(self, sock: socket.socket, timeout: float = 5.0) -> None:
        """Also serve on a listening socket made elsewhere (e.g. inside the child's network
        namespace and passed back over a unix socket). The proxy takes ownership of it."""
        if self._loop is None or self._thread is None:
            raise RuntimeError("start the proxy first")
        future = asyncio.run_coroutine_threadsafe(self._serve_on(sock), self._loop)
        future.result(timeout)

    def __enter__(self) -> ProxyServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- what the child needs ---------------------------------------------------------------

    @property
    def token(self) -> str:
        """The session token the child must present."""
        return self._state.token

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)`` the proxy listens on."""
        if self._address is None:
            raise RuntimeError("the proxy is not started")
        return self._address

    @property
    def url(self) -> str:
        """``http://nono:TOKEN@127.0.0.1:PORT``."""
        return proxy_url(*self.address, self.token)

    @property
    def connection_count(self) -> int:
        """Client connections being served right now."""
        return len(self._sessions)

    def route_url(self, name: str) -> str:
        """The base URL of credential route ``name`` (without any client suffix)."""
        return route_url(*self.address, name)

    def child_env(self) -> dict[str, str]:
        """Variables to set in the child; also remove ``env.PROXY_ENV_STRIP`` from it."""
        host, port = self.address
        return proxy_env(host, port, self.token, self._state.routes.values())

    # -- on the proxy's loop ----------------------------------------------------------------

    async def _listen(self) -> None:
        server = await asyncio.start_server(
            self._serve, self.config.bind_host, self.config.port, limit=MAX_HEAD
        )
        self._servers.append(server)
        sockname = server.sockets[0].getsockname()
        self._address = (str(sockname[0]), int(sockname[1]))
        self._state.ports.add(self._address[1])

    async def _serve_on(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        server = await asyncio.start_server(self._serve, sock=sock, limit=MAX_HEAD)
        self._servers.append(server)
        self._state.ports.add(int(sock.getsockname()[1]))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        if len(self._sessions) >= self.config.limits.max_connections:
            with contextlib.suppress(OSError, ConnectionError):
                writer.write(error_response(503, "nono proxy: too many connections"))
            await close_writer(writer)
            return
        sock = writer.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sessions.add(task)
        try:
            await ClientSession(self._state, reader, writer).run()
        except asyncio.CancelledError:
            # Only stop() cancels sessions. Returning normally (not re-raising) matters:
            # asyncio's stream callback would log a cancelled session as an error.
            writer.transport.abort()
        finally:
            self._sessions.discard(task)

    async def _drain(self) -> None:
        """After ``loop.stop()``: close listeners, cancel sessions, wait for them."""
        for server in self._servers:
            server.close()
        for task in list(self._sessions):
            task.cancel()
        if self._sessions:
            await asyncio.wait(list(self._sessions), timeout=2.0)
        for server in self._servers:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1.0):
                    await server.wait_closed()
