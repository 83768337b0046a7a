"""A tunnel's TLS ClientHello must name the CONNECT host (no fronting through a shared CDN)."""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading

import pytest
from proxy_helpers import TIMEOUT, connect, proxy_auth, status_of

from nonoc.runtime.proxy.events import Reason
from nonoc.runtime.proxy.sni import SniMismatch, check_first_flight, server_name


def client_hello(name: str | None) -> bytes:
    """The bytes a real TLS client sends first, made with ssl's memory BIOs."""
    context = ssl.create_default_context()
    if name is None:
        context.check_hostname = False
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname=name)
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


def records_to_handshake(data: bytes) -> bytes:
    return data[5:]


def split_into_two_records(data: bytes) -> bytes:
    payload = data[5:]
    half = len(payload) // 2
    header = data[:3]
    return (
        header
        + half.to_bytes(2, "big")
        + payload[:half]
        + header
        + (len(payload) - half).to_bytes(2, "big")
        + payload[half:]
    )


def check(data: bytes, host: str, chunks: int = 1) -> bytes:
    async def run() -> bytes:
        reader = asyncio.StreamReader()
        step = max(1, len(data) // chunks)
        first, rest = data[:step], data[step:]
        reader.feed_data(rest)
        reader.feed_eof()
        return await check_first_flight(first, reader, host, 2.0)

    return asyncio.run(run())


def test_server_name_of_a_real_client_hello() -> None:
    hello = client_hello("api.example.com")
    assert server_name(records_to_handshake(hello)) == "api.example.com"
    assert server_name(records_to_handshake(client_hello(None))) is None


def test_matching_name_passes_and_every_byte_is_returned() -> None:
    hello = client_hello("api.example.com")
    assert check(hello, "API.example.com.") == hello
    assert check(hello, "api.example.com", chunks=7) == hello  # arrives in pieces
    split = split_into_two_records(hello)
    assert check(split, "api.example.com") == split  # hello spread over two records


def test_other_name_is_refused() -> None:
    with pytest.raises(SniMismatch):
        check(client_hello("evil.example.net"), "api.example.com")


def test_no_sni_and_non_tls_pass() -> None:
    hello = client_hello(None)
    assert check(hello, "api.example.com") == hello
    assert check(b"SSH-2.0-OpenSSH_9.6\r\n", "git.example.com") == b"SSH-2.0-OpenSSH_9.6\r\n"


@pytest.mark.parametrize(
    "data",
    [
        b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00",
        b"\x16\x03\x01\x00\x02\x01",
        b"\x16\x03\x01\x00\x04\x01\x00\x00\x00\x17\x03\x03",
    ],
)
def test_malformed_or_truncated_hello_is_refused(data: bytes) -> None:
    with pytest.raises(SniMismatch):
        check(data, "api.example.com")


def tls_through_tunnel(proxy, port: int, connect_host: str, sni: str, context) -> bytes:
    sock = connect(proxy.port)
    sock.sendall(
        (
            f"CONNECT {connect_host}:{port} HTTP/1.1\r\n"
            f"Proxy-Authorization: {proxy_auth(proxy.token)}\r\n\r\n"
        ).encode()
    )
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        head += sock.recv(1)
    assert status_of(head) == 200
    with context.wrap_socket(sock, server_hostname=sni) as tls:
        tls.sendall(f"GET /sni HTTP/1.1\r\nHost: {sni}\r\nConnection: close\r\n\r\n".encode())
        return tls.recv(100)


def test_live_mismatch_ends_the_tunnel(make_proxy, tls_upstream, test_ca) -> None:
    proxy = make_proxy()
    # The test certificate is valid for custom.test too: only the proxy's check stops this.
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        tls_through_tunnel(
            proxy, tls_upstream.port, "secure.test", "custom.test", test_ca.client_context()
        )
    event = proxy.last()
    assert (event.kind, event.allowed, event.reason) == ("connect", False, Reason.SNI_MISMATCH)
    assert "custom.test" in event.detail


def test_live_mismatch_allowed_when_the_check_is_off(make_proxy, tls_upstream, test_ca) -> None:
    proxy = make_proxy(check_tls_server_name=False)
    answer = tls_through_tunnel(
        proxy, tls_upstream.port, "secure.test", "custom.test", test_ca.client_context()
    )
    assert answer.startswith(b"HTTP/1.1 200")


def test_server_speaks_first(make_proxy) -> None:
    """The server's banner reaches the client before the client has sent anything."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(TIMEOUT)

    def serve() -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            conn.sendall(b"220 banner\r\n")
            conn.settimeout(TIMEOUT)
            conn.sendall(conn.recv(100))

    threading.Thread(target=serve, daemon=True).start()
    proxy = make_proxy()
    port = listener.getsockname()[1]
    with connect(proxy.port) as sock:
        sock.sendall(
            (
                f"CONNECT echo.test:{port} HTTP/1.1\r\n"
                f"Proxy-Authorization: {proxy_auth(proxy.token)}\r\n\r\n"
            ).encode()
        )
        data = b""
        while b"220 banner\r\n" not in data:
            data += sock.recv(100)
        sock.sendall(b"EHLO x\r\n")
        assert sock.recv(100) == b"EHLO x\r\n"
    listener.close()
