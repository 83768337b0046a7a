"""Malformed input never crashes the proxy; slow, silent and half-closed clients are bounded."""

from __future__ import annotations

import logging
import socket
import time

import pytest
from proxy_helpers import FAST, connect, exchange, proxy_auth, read_all, read_response, status_of

from nonoc.runtime.proxy import Limits


def good_request(proxy, upstream_port: int) -> int:
    return status_of(
        exchange(
            proxy.port,
            (
                f"GET http://plain.test:{upstream_port}/ok HTTP/1.1\r\n"
                f"Proxy-Authorization: {proxy_auth(proxy.token)}\r\nConnection: close\r\n\r\n"
            ).encode(),
        )
    )


MALFORMED = [
    b"garbage\r\n\r\n",
    b"\x00\xff\xfe\xfd\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64 + b"\r\n\r\n",  # TLS hello
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    b"GET / HTTP/3.0\r\n\r\n",
    b"GET  HTTP/1.1\r\n\r\n",
    b"GET http://plain.test/ HTTP/1.1\r\nBad Header\r\n\r\n",
    b"GET http://plain.test/ HTTP/1.1\r\n folded: line\r\n\r\n",
    b"GET http://plain.test/ HTTP/1.1\r\nX: a\x01b\r\n\r\n",
    b"GET http://plain.test/ HTTP/1.1\r\n" + b"X: " + b"a" * 70_000 + b"\r\n\r\n",
    b"GET http://plain.test/ HTTP/1.1\r\n" + b"X: a\r\n" * 500 + b"\r\n",
    b"GET http://exa mple/ HTTP/1.1\r\n\r\n",
    b"GET http://plain.test:abc/ HTTP/1.1\r\n\r\n",
    b"GET http://plain.test:99999/ HTTP/1.1\r\n\r\n",
    b"GET http://[::1/ HTTP/1.1\r\n\r\n",
    b"GET * HTTP/1.1\r\n\r\n",
    b"GET ftp://plain.test/ HTTP/1.1\r\n\r\n",
    b"CONNECT nohost HTTP/1.1\r\n\r\n",
    b"CONNECT plain.test:0 HTTP/1.1\r\n\r\n",
    b"CONNECT :443 HTTP/1.1\r\n\r\n",
    b"CONNECT ::1:443 HTTP/1.1\r\n\r\n",
    b"GET /%00/../ HTTP/1.1\r\n\r\n",
]


@pytest.mark.parametrize("raw", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_requests_get_an_error_and_the_proxy_keeps_serving(
    make_proxy, http_upstream, raw, caplog
) -> None:
    proxy = make_proxy()
    caplog.set_level(logging.ERROR)
    answer = exchange(proxy.port, raw)
    assert answer == b"" or 400 <= status_of(answer) < 600
    assert good_request(proxy, http_upstream.port) == 200
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize(
    "headers",
    [
        "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
        "Content-Length: abc\r\n",
        "Content-Length: 5\r\nContent-Length: 6\r\n",
        "Transfer-Encoding: gzip, chunked\r\n",
        "Transfer-Encoding: chunked\r\n\r\nzz\r\n",
    ],
)
def test_ambiguous_framing_is_refused(make_proxy, http_upstream, headers) -> None:
    proxy = make_proxy()
    raw = exchange(
        proxy.port,
        (
            f"POST http://plain.test:{http_upstream.port}/ HTTP/1.1\r\n"
            f"Proxy-Authorization: {proxy_auth(proxy.token)}\r\n{headers}\r\nhello"
        ).encode(),
    )
    assert 400 <= status_of(raw) < 600
    assert good_request(proxy, http_upstream.port) == 200


def test_garbage_proxy_authorization_is_407(make_proxy, http_upstream) -> None:
    proxy = make_proxy()
    for value in ("Basic !!!", "Basic", "Bearer x", "Basic " + "A" * 5000, "Basic bm9jb2xvbg=="):
        raw = exchange(
            proxy.port,
            (
                f"GET http://plain.test:{http_upstream.port}/ HTTP/1.1\r\n"
                f"Proxy-Authorization: {value}\r\n\r\n"
            ).encode(),
        )
        assert status_of(raw) == 407


def closed_within(sock: socket.socket, seconds: float) -> float:
    start = time.monotonic()
    sock.settimeout(seconds)
    read_all(sock)
    return time.monotonic() - start


def test_silent_client_is_dropped(make_proxy) -> None:
    proxy = make_proxy()
    with connect(proxy.port) as sock:
        assert closed_within(sock, 4.0) < FAST.head_timeout + 1.5


def test_slowloris_is_bounded(make_proxy) -> None:
    proxy = make_proxy()
    start = time.monotonic()
    with connect(proxy.port) as sock:
        try:
            for byte in b"GET http://plain.test/ HTTP/1.1\r\nX-Slow: " + b"a" * 100:
                sock.sendall(bytes([byte]))
                time.sleep(0.1)
                if time.monotonic() - start > 4.0:
                    break
        except OSError:
            pass  # the proxy closed on us: what we want
    assert time.monotonic() - start < FAST.head_timeout + 2.0


def test_half_closed_mid_head(make_proxy, http_upstream) -> None:
    proxy = make_proxy()
    with connect(proxy.port) as sock:
        sock.sendall(b"GET http://plain.test/ HTTP/1.1\r\nHost: plain")
        sock.shutdown(socket.SHUT_WR)
        start = time.monotonic()
        answer = read_all(sock)
        assert time.monotonic() - start < 0.5  # answered at once, not at the timeout
        assert answer == b"" or status_of(answer) == 400
    assert good_request(proxy, http_upstream.port) == 200


def test_idle_tunnel_is_closed(make_proxy, echo_tcp) -> None:
    proxy = make_proxy()
    with connect(proxy.port) as sock:
        sock.sendall(
            (
                f"CONNECT echo.test:{echo_tcp.port} HTTP/1.1\r\n"
                f"Proxy-Authorization: {proxy_auth(proxy.token)}\r\n\r\n"
            ).encode()
        )
        assert sock.recv(100).startswith(b"HTTP/1.1 200")
        assert closed_within(sock, 4.0) < FAST.idle_timeout + 1.5


def test_request_body_that_stalls_is_bounded(make_proxy, http_upstream) -> None:
    proxy = make_proxy()
    with connect(proxy.port) as sock:
        sock.sendall(
            (
                f"POST http://plain.test:{http_upstream.port}/ HTTP/1.1\r\n"
                f"Proxy-Authorization: {proxy_auth(proxy.token)}\r\n"
                "Content-Length: 100\r\n\r\nonly ten b"
            ).encode()
        )
        assert closed_within(sock, 5.0) < FAST.idle_timeout + 2.5


def test_client_that_stops_reading_is_dropped(make_proxy, http_upstream) -> None:
    proxy = make_proxy()
    sock = connect(proxy.port)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.sendall(
        (
            f"GET http://plain.test:{http_upstream.port}/bytes/200000000 HTTP/1.1\r\n"
            f"Proxy-Authorization: {proxy_auth(proxy.token)}\r\n\r\n"
        ).encode()
    )
    deadline = time.monotonic() + 5.0
    time.sleep(0.3)
    while proxy.server.connection_count and time.monotonic() < deadline:
        time.sleep(0.1)
    sock.close()
    assert proxy.server.connection_count == 0


def test_connection_limit(make_proxy, http_upstream) -> None:
    proxy = make_proxy(
        limits=Limits(head_timeout=2.0, idle_timeout=2.0, connect_timeout=2.0, max_connections=2)
    )
    held = [connect(proxy.port), connect(proxy.port)]
    time.sleep(0.1)
    try:
        assert status_of(exchange(proxy.port, b"")) == 503
    finally:
        for sock in held:
            sock.close()
    time.sleep(0.1)
    assert good_request(proxy, http_upstream.port) == 200


def test_stop_with_open_connections_is_quick(make_proxy, echo_tcp) -> None:
    proxy = make_proxy(limits=Limits(head_timeout=30, idle_timeout=30))
    idle = connect(proxy.port)
    tunnel = connect(proxy.port)
    tunnel.sendall(
        (
            f"CONNECT echo.test:{echo_tcp.port} HTTP/1.1\r\n"
            f"Proxy-Authorization: {proxy_auth(proxy.token)}\r\n\r\n"
        ).encode()
    )
    assert tunnel.recv(100).startswith(b"HTTP/1.1 200")
    start = time.monotonic()
    proxy.server.stop()
    assert time.monotonic() - start < 3.0
    assert read_all(tunnel) == b"" and read_all(idle) == b""
    idle.close()
    tunnel.close()
    proxy.server.stop()  # idempotent


def test_keep_alive_head_after_response(make_proxy, http_upstream) -> None:
    """Two requests sent back to back in one packet are both answered, in order."""
    proxy = make_proxy()
    auth = f"Proxy-Authorization: {proxy_auth(proxy.token)}\r\n"
    one = f"GET http://plain.test:{http_upstream.port}/a HTTP/1.1\r\n{auth}\r\n"
    with connect(proxy.port) as sock:
        sock.sendall((one + one.replace("/a ", "/b ")).encode())
        assert read_response(sock)[0] == 200
        assert read_response(sock)[0] == 200
