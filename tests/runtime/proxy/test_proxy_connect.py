"""CONNECT tunnels: bytes both ways, half-close, TLS end to end, refusals."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess

import pytest
from proxy_helpers import TIMEOUT, connect, exchange, proxy_auth, read_all, status_of

from nonoc.runtime.proxy.events import Reason


def open_tunnel(port: int, target: str, token: str | None) -> tuple[socket.socket, bytes]:
    sock = connect(port)
    auth = f"Proxy-Authorization: {proxy_auth(token)}\r\n" if token else ""
    sock.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n{auth}\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        data = sock.recv(1)
        if not data:
            break
        head += data
    return sock, head


def test_tunnel_carries_bytes_both_ways_and_half_close(make_proxy, echo_tcp) -> None:
    proxy = make_proxy()
    sock, head = open_tunnel(proxy.port, f"echo.test:{echo_tcp.port}", proxy.token)
    with sock:
        assert status_of(head) == 200
        sock.sendall(b"ping")
        assert sock.recv(4) == b"ping"
        blob = os.urandom(1 << 20)
        sock.sendall(blob)
        received = b""
        while len(received) < len(blob):
            received += sock.recv(1 << 16)
        assert received == blob
        sock.shutdown(socket.SHUT_WR)  # half-close: the server's answer must still arrive
        assert read_all(sock) == b"BYE"
    event = proxy.events[0]
    assert (event.kind, event.host, event.port, event.allowed, event.status) == (
        "connect",
        "echo.test",
        echo_tcp.port,
        True,
        200,
    )


def test_tls_through_the_tunnel(make_proxy, tls_upstream, test_ca) -> None:
    proxy = make_proxy()
    conn = http.client.HTTPSConnection(
        "127.0.0.1", proxy.port, timeout=TIMEOUT, context=test_ca.client_context()
    )
    conn.set_tunnel(
        "secure.test", tls_upstream.port, headers={"Proxy-Authorization": proxy_auth(proxy.token)}
    )
    conn.request("GET", "/over-tls")
    response = conn.getresponse()
    assert response.status == 200
    assert json.loads(response.read())["path"] == "/over-tls"
    conn.close()


def test_curl_https_with_child_env(make_proxy, tls_upstream, test_ca) -> None:
    proxy = make_proxy()
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.update(proxy.server.child_env())
    out = subprocess.run(
        [
            "curl",
            "-sS",
            "-m",
            str(TIMEOUT),
            "--cacert",
            str(test_ca.ca_file),
            f"https://secure.test:{tls_upstream.port}/curl",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=20,
    )
    if out.returncode == 127:
        pytest.skip("curl is not installed")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["path"] == "/curl"


def test_connect_to_host_off_the_list(make_proxy, echo_tcp) -> None:
    proxy = make_proxy()
    sock, head = open_tunnel(proxy.port, f"other.test:{echo_tcp.port}", proxy.token)
    sock.close()
    assert status_of(head) == 403
    assert proxy.last().reason is Reason.NOT_ALLOWLISTED and proxy.last().kind == "connect"


@pytest.mark.parametrize("token", [None, "nope"])
def test_connect_without_token(make_proxy, echo_tcp, token) -> None:
    proxy = make_proxy()
    sock, head = open_tunnel(proxy.port, f"echo.test:{echo_tcp.port}", token)
    sock.close()
    assert status_of(head) == 407 and proxy.last().reason is Reason.AUTH


@pytest.mark.parametrize(
    "target",
    [
        "169.254.169.254:80",
        "2852039166:80",
        "0xa9fea9fe:443",
        "0251.0376.0251.0376:80",
        "[::ffff:169.254.169.254]:80",
        "[::ffff:a9fe:a9fe]:80",
        "[fd00:ec2::254]:80",
        "[fe80::1]:443",
        "metadata.google.internal:80",
        "metadata.azure.internal:443",
        "linklocal.test:80",
        "mapped.test:80",
        "v6linklocal.test:80",
    ],
)
def test_connect_to_metadata_refused_when_allowlisted(make_proxy, target) -> None:
    host = target.rpartition(":")[0].strip("[]")
    proxy = make_proxy(allow_hosts=[host, "linklocal.test", "mapped.test", "v6linklocal.test"])
    raw = exchange(
        proxy.port,
        (
            f"CONNECT {target} HTTP/1.1\r\nProxy-Authorization: {proxy_auth(proxy.token)}\r\n\r\n"
        ).encode(),
    )
    assert status_of(raw) == 403
    assert proxy.last().reason is Reason.METADATA


def test_wildcard_allowlist(make_proxy, echo_tcp) -> None:
    proxy = make_proxy()
    sock, head = open_tunnel(proxy.port, f"sub.wild.test:{echo_tcp.port}", proxy.token)
    sock.close()
    assert status_of(head) == 200
    assert proxy.last().detail == "allowed by *.wild.test"
