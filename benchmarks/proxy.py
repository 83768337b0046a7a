"""What the allowlist proxy costs: throughput of a 100 MB transfer and latency of 1,000 small
requests, through the proxy (plain HTTP forwarding and a CONNECT tunnel) against direct
loopback. Everything runs on 127.0.0.1 with a local upstream; prints the figures. The
proxy and the upstream each run in their own process (as in ``nono run``, where the proxy
lives in the parent and the client is the sandboxed child), so they do not share a GIL
with the measuring client.

    .venv/bin/python benchmarks/proxy.py [--size-mb 100] [--requests 1000]
"""

from __future__ import annotations

import argparse
import base64
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nonoc.runtime.proxy import MapResolver, ProxyConfig, ProxyServer

BLOCK = memoryview(b"x" * (1 << 20))


class Upstream:
    """A minimal keep-alive HTTP server: ``/bytes/N`` sends N bytes, anything else 2 bytes."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buffer = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in buffer:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buffer += data
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                path = head.split(b" ", 2)[1].decode()
                size = int(path.rsplit("/", 1)[1]) if "/bytes/" in path else 2
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
                while size > 0:
                    chunk = BLOCK[: min(size, len(BLOCK))]
                    conn.sendall(chunk)
                    size -= len(chunk)


class Client:
    """A keep-alive HTTP/1.1 client on one connection (optionally after a CONNECT)."""

    def __init__(self, port: int, *, connect_to: str | None = None, auth: str = "") -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = bytearray(1 << 20)
        self.pending = b""
        if connect_to:
            self.sock.sendall(
                f"CONNECT {connect_to} HTTP/1.1\r\nProxy-Authorization: {auth}\r\n\r\n".encode()
            )
            head = self._head()
            assert head.startswith(b"HTTP/1.1 200"), head

    def _head(self) -> bytes:
        while b"\r\n\r\n" not in self.pending:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed")
            self.pending += data
        head, _, self.pending = self.pending.partition(b"\r\n\r\n")
        return head

    def get(self, target: str, headers: str = "") -> int:
        """Send one GET, read the whole body; return its length."""
        self.sock.sendall(f"GET {target} HTTP/1.1\r\nHost: bench.test\r\n{headers}\r\n".encode())
        head = self._head()
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        received = len(self.pending)
        self.pending = b""
        view = memoryview(self.buffer)
        while received < length:
            count = self.sock.recv_into(view, min(len(self.buffer), length - received))
            if not count:
                raise ConnectionError("closed mid-body")
            received += count
        return length

    def close(self) -> None:
        self.sock.close()


def transfer(make: Callable[[], tuple[Client, str, str]], size: int) -> float:
    """Seconds to fetch ``size`` bytes (best of three)."""
    times = []
    for _ in range(3):
        client, target, headers = make()
        start = time.perf_counter()
        assert client.get(f"{target}/bytes/{size}", headers) == size
        times.append(time.perf_counter() - start)
        client.close()
    return min(times)


def latencies(make: Callable[[], tuple[Client, str, str]], count: int) -> list[float]:
    """Per-request seconds for ``count`` small requests on one kept-alive connection."""
    client, target, headers = make()
    for _ in range(20):  # warm up
        client.get(f"{target}/small", headers)
    result = []
    for _ in range(count):
        start = time.perf_counter()
        client.get(f"{target}/small", headers)
        result.append(time.perf_counter() - start)
    client.close()
    return result


def connect_setup(port: int, upstream: int, auth: str, count: int) -> list[float]:
    """Seconds to open a tunnel and complete one small request, ``count`` times."""
    result = []
    for _ in range(count):
        start = time.perf_counter()
        client = Client(port, connect_to=f"bench.test:{upstream}", auth=auth)
        client.get("/small")
        result.append(time.perf_counter() - start)
        client.close()
    return result


def direct_setup(upstream: int, count: int) -> list[float]:
    result = []
    for _ in range(count):
        start = time.perf_counter()
        client = Client(upstream)
        client.get("/small")
        result.append(time.perf_counter() - start)
        client.close()
    return result


def us(values: list[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[int(len(ordered) * 0.99) - 1]
    return f"median {statistics.median(values) * 1e6:7.0f} µs   p99 {p99 * 1e6:7.0f} µs"


def serve_upstream() -> int:
    """Child process: run the upstream, print its port, live until stdin closes."""
    upstream = Upstream()
    print(upstream.port, flush=True)
    sys.stdin.read()
    return 0


def serve_proxy(upstream_port: int) -> int:
    """Child process: run the proxy, print ``port token``, live until stdin closes."""
    config = ProxyConfig(
        allow_hosts=["bench.test"],
        resolver=MapResolver({"bench.test": "127.0.0.1"}),
        allow_loopback=True,
    )
    with ProxyServer(config) as proxy:
        print(proxy.address[1], proxy.token, flush=True)
        sys.stdin.read()
    return 0


def spawn(*args: str) -> tuple[subprocess.Popen[str], list[str]]:
    process = subprocess.Popen(
        [sys.executable, __file__, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    return process, process.stdout.readline().split()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mb", type=int, default=100)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--serve-upstream", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve-proxy", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_upstream:
        return serve_upstream()
    if args.serve_proxy:
        return serve_proxy(args.serve_proxy)
    size = args.size_mb * 1_000_000

    upstream_process, (upstream_text,) = spawn("--serve-upstream")
    upstream_port = int(upstream_text)
    proxy_process, (port_text, token) = spawn("--serve-proxy", upstream_text)
    port = int(port_text)
    try:
        auth = "Basic " + base64.b64encode(f"nono:{token}".encode()).decode()
        proxy_header = f"Proxy-Authorization: {auth}\r\n"
        absolute = f"http://bench.test:{upstream_port}"

        def direct() -> tuple[Client, str, str]:
            return Client(upstream_port), "", ""

        def forward() -> tuple[Client, str, str]:
            return Client(port), absolute, proxy_header

        def tunnel() -> tuple[Client, str, str]:
            return Client(port, connect_to=f"bench.test:{upstream_port}", auth=auth), "", ""

        print(
            f"proxy benchmark: python {sys.version.split()[0]}, 127.0.0.1, "
            f"{args.size_mb} MB, {args.requests} small requests"
        )
        print(f"\n{args.size_mb} MB transfer (best of 3):")
        base = transfer(direct, size)
        for name, make in (("direct", direct), ("HTTP forward", forward), ("CONNECT", tunnel)):
            seconds = base if make is direct else transfer(make, size)
            rate = size / seconds / 1e6
            print(
                f"  {name:13s} {seconds * 1000:8.1f} ms  {rate:8.0f} MB/s"
                + ("" if make is direct else f"  (+{(seconds - base) * 1000:.1f} ms)")
            )

        print(f"\n{args.requests} small requests on one kept-alive connection:")
        results = {
            name: latencies(make, args.requests)
            for name, make in (("direct", direct), ("HTTP forward", forward), ("CONNECT", tunnel))
        }
        for name, values in results.items():
            added = statistics.median(values) - statistics.median(results["direct"])
            print(
                f"  {name:13s} {us(values)}"
                + ("" if name == "direct" else f"   added {added * 1e6:5.0f} µs")
            )

        count = max(50, args.requests // 5)
        print(f"\n{count} new connections, one small request each:")
        plain = direct_setup(upstream_port, count)
        tunnelled = connect_setup(port, upstream_port, auth, count)
        print(f"  direct        {us(plain)}")
        print(
            f"  CONNECT       {us(tunnelled)}   added "
            f"{(statistics.median(tunnelled) - statistics.median(plain)) * 1e6:5.0f} µs"
        )
    finally:
        for process in (proxy_process, upstream_process):
            assert process.stdin is not None
            process.stdin.close()
            process.wait(10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
