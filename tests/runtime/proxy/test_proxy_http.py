"""Plain HTTP through the proxy (absolute-form requests), against local echo servers."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from proxy_helpers import TIMEOUT, connect, exchange, proxy_auth, read_response, status_of

from nonoc.runtime.proxy.events import Reason


def get(port: int, url: str, token: str | None, extra: str = "") -> bytes:
    auth = f"Proxy-Authorization: {proxy_auth(token)}\r\n" if token else ""
    host = url.split("/")[2]
    return exchange(
        port,
        f"GET {url} HTTP/1.1\r\nHost: {host}\r\n{auth}{extra}Connection: close\r\n\r\n".encode(),
    )


def test_allowed_host_is_forwarded(make_proxy, http_upstream) -> None:
    proxy = make_proxy()
    raw = get(proxy.port, f"http://plain.test:{http_upstream.port}/hello?x=1", proxy.token)
    assert status_of(raw) == 200
    seen = json.loads(raw.partition(b"\r\n\r\n")[2])
    assert seen["path"] == "/hello?x=1"
    headers = {k.lower(): v for k, v in seen["headers"]}
    assert headers["host"] == f"plain.test:{http_upstream.port}"
    assert "proxy-authorization" not in headers  # the token never leaves the proxy
    event = proxy.last()
    assert (event.kind, event.host, event.allowed, event.reason) == (
        "http",
        "plain.test",
        True,
        Reason.ALLOWLISTED,
    )
    assert event.address == "127.0.0.1" and event.status == 200


def test_standard_client_uses_the_environment(make_proxy, http_upstream) -> None:
    """A stock urllib in a child process, configured only by child_env(), gets through."""
    proxy = make_proxy()
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.update(proxy.server.child_env())
    code = (
        "import urllib.request,sys;"
        "print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, f"http://plain.test:{http_upstream.port}/via-env"],
        env=env,
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["path"] == "/via-env"


def test_host_off_the_list_gets_403_and_an_event(make_proxy, http_upstream) -> None:
    proxy = make_proxy()
    raw = get(proxy.port, f"http://other.test:{http_upstream.port}/", proxy.token)
    assert status_of(raw) == 403
    event = proxy.last()
    assert (event.host, event.allowed, event.reason, event.status) == (
        "other.test",
        False,
        Reason.NOT_ALLOWLISTED,
        403,
    )
    assert event.to_dict()["reason"] == "not_allowlisted"


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_missing_or_wrong_token_gets_407(make_proxy, http_upstream, token) -> None:
    proxy = make_proxy()
    raw = get(proxy.port, f"http://plain.test:{http_upstream.port}/", token)
    assert status_of(raw) == 407
    assert b'Proxy-Authenticate: Basic realm="nono"' in raw
    assert proxy.last().reason is Reason.AUTH


def test_any_user_name_with_the_token_works(make_proxy, http_upstream) -> None:
    proxy = make_proxy()
    raw = exchange(
        proxy.port,
        (
            f"GET http://plain.test:{http_upstream.port}/ HTTP/1.1\r\n"
            f"Proxy-Authorization: {proxy_auth(proxy.token, user='anyone')}\r\n"
            "Connection: close\r\n\r\n"
        ).encode(),
    )
    assert status_of(raw) == 200


@pytest.mark.parametrize(
    "host",
    [
        "169.254.169.254",
        "2852039166",
        "0xa9fea9fe",
        "0251.0376.0251.0376",
        "169.254.43518",
        "[::ffff:169.254.169.254]",
        "[fd00:ec2::254]",
        "[fe80::1]",
        "metadata.google.internal",
        "metadata.azure.internal",
        "linklocal.test",
        "mapped.test",
        "v6linklocal.test",
        "ec2v6.test",
        "mixed.test",
    ],
)
def test_metadata_refused_even_when_allowlisted(make_proxy, host) -> None:
    bare = host.strip("[]")
    proxy = make_proxy(
        allow_hosts=[
            bare,
            "linklocal.test",
            "mapped.test",
            "v6linklocal.test",
            "ec2v6.test",
            "mixed.test",
        ]
    )
    raw = get(proxy.port, f"http://{host}/latest/meta-data/", proxy.token)
    assert status_of(raw) == 403
    assert proxy.last().reason is Reason.METADATA and not proxy.last().allowed


def test_keep_alive_checks_every_request(make_proxy, http_upstream) -> None:
    """An allowed first request on a connection does not open the way for the next."""
    proxy = make_proxy()
    port = http_upstream.port
    auth = f"Proxy-Authorization: {proxy_auth(proxy.token)}\r\n"
    with connect(proxy.port) as sock:
        sock.sendall(f"GET http://plain.test:{port}/one HTTP/1.1\r\nHost: x\r\n{auth}\r\n".encode())
        status, _, body = read_response(sock)
        assert status == 200 and json.loads(body)["path"] == "/one"
        sock.sendall(f"GET http://plain.test:{port}/two HTTP/1.1\r\n{auth}\r\n".encode())
        status, _, body = read_response(sock)
        assert status == 200 and json.loads(body)["path"] == "/two"
        sock.sendall(f"GET http://other.test:{port}/three HTTP/1.1\r\n{auth}\r\n".encode())
        status, headers, _ = read_response(sock)
        assert status == 403 and headers["connection"] == "close"
    assert [e.allowed for e in proxy.events] == [True, True, False]


def test_request_bodies_are_relayed(make_proxy, http_upstream) -> None:
    proxy = make_proxy()
    port = http_upstream.port
    auth = f"Proxy-Authorization: {proxy_auth(proxy.token)}\r\n"
    with connect(proxy.port) as sock:
        sock.sendall(
            (
                f"POST http://plain.test:{port}/cl HTTP/1.1\r\n{auth}Content-Length: 5\r\n\r\nhello"
            ).encode()
        )
        _, _, body = read_response(sock)
        assert json.loads(body)["body"] == "hello"
        sock.sendall(
            (
                f"POST http://plain.test:{port}/te HTTP/1.1\r\n{auth}"
                "Transfer-Encoding: chunked\r\n\r\n"
                "3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
            ).encode()
        )
        _, _, body = read_response(sock)
        assert json.loads(body)["body"] == "abcde"


def test_chunked_and_close_delimited_responses(make_proxy, http_upstream) -> None:
    proxy = make_proxy()
    raw = get(proxy.port, f"http://plain.test:{http_upstream.port}/chunked", proxy.token)
    assert status_of(raw) == 200 and b"Transfer-Encoding: chunked" in raw
    assert b"hello " in raw and raw.endswith(b"0\r\n\r\n")
    raw = get(proxy.port, f"http://plain.test:{http_upstream.port}/close", proxy.token)
    assert status_of(raw) == 200 and raw.endswith(b"until the end")


def test_large_body_both_ways(make_proxy, http_upstream) -> None:
    proxy = make_proxy()
    port = http_upstream.port
    auth = f"Proxy-Authorization: {proxy_auth(proxy.token)}\r\n"
    payload = b"y" * (3 * 1024 * 1024)
    with connect(proxy.port) as sock:
        sock.sendall(
            (
                f"POST http://plain.test:{port}/big HTTP/1.1\r\n{auth}"
                f"Content-Length: {len(payload)}\r\n\r\n"
            ).encode()
            + payload
        )
        status, _, body = read_response(sock)
        assert status == 200 and len(json.loads(body)["body"]) == len(payload)
        sock.sendall(f"GET http://plain.test:{port}/bytes/5000000 HTTP/1.1\r\n{auth}\r\n".encode())
        status, _, body = read_response(sock)
        assert status == 200 and len(body) == 5_000_000


def test_expect_100_continue(make_proxy, http_upstream) -> None:
    proxy = make_proxy()
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.update(proxy.server.child_env())
    out = subprocess.run(
        [
            "curl",
            "-sS",
            "-m",
            str(TIMEOUT),
            "-H",
            "Expect: 100-continue",
            "--data-binary",
            "@-",
            f"http://plain.test:{http_upstream.port}/upload",
        ],
        input=b"z" * 200_000,
        env=env,
        capture_output=True,
        timeout=20,
    )
    if out.returncode == 127:
        pytest.skip("curl is not installed")
    assert out.returncode == 0, out.stderr
    assert len(json.loads(out.stdout)["body"]) == 200_000


def test_https_url_in_absolute_form_is_refused(make_proxy) -> None:
    proxy = make_proxy()
    raw = get(proxy.port, "https://secure.test/", proxy.token)
    assert status_of(raw) == 400


def test_upstream_down_gives_502_and_an_event(make_proxy) -> None:
    proxy = make_proxy()
    import socket

    with socket.socket() as probe:  # a port with nothing listening
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    raw = get(proxy.port, f"http://plain.test:{dead}/", proxy.token)
    assert status_of(raw) == 502
    event = proxy.last()
    assert event.allowed and event.reason is Reason.UPSTREAM_FAILED


def test_loopback_refused_by_default(make_proxy, http_upstream) -> None:
    proxy = make_proxy(allow_loopback=False)
    raw = get(proxy.port, f"http://plain.test:{http_upstream.port}/", proxy.token)
    assert status_of(raw) == 403 and proxy.last().reason is Reason.LOOPBACK


def test_stale_kept_upstream_is_retried_for_bodiless_requests(make_proxy) -> None:
    """An upstream that drops a kept-alive connection instead of answering its second request:
    the proxy sends that (bodiless) request again on a fresh connection."""
    import socket
    import threading

    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(TIMEOUT)
    connections = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            connections.append(conn)
            conn.settimeout(TIMEOUT)
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(4096)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            data = b""
            while b"\r\n\r\n" not in data:  # the next request arrives ...
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
            conn.close()  # ... and is dropped unanswered, as by a keep-alive timeout race

    threading.Thread(target=serve, daemon=True).start()
    port = listener.getsockname()[1]
    proxy = make_proxy()
    auth = f"Proxy-Authorization: {proxy_auth(proxy.token)}\r\n"
    with connect(proxy.port) as sock:
        for path in ("/1", "/2", "/3"):
            sock.sendall(f"GET http://plain.test:{port}{path} HTTP/1.1\r\n{auth}\r\n".encode())
            status, _, body = read_response(sock)
            assert (status, body) == (200, b"ok")
    assert len(connections) == 3
    listener.close()


def test_connects_to_the_checked_address_without_a_second_lookup(make_proxy, http_upstream):
    """DNS rebinding: a name that answers 127.0.0.1 first and a metadata address after.
    The proxy resolves once, checks, and connects to what it checked."""
    import ipaddress

    calls: list[str] = []

    class Rebinding:
        async def resolve(self, name: str, port: int):
            calls.append(name)
            first = len(calls) == 1
            return [(ipaddress.ip_address("127.0.0.1" if first else "169.254.169.254"), port)]

    proxy = make_proxy(resolver=Rebinding())
    raw = get(proxy.port, f"http://plain.test:{http_upstream.port}/once", proxy.token)
    assert status_of(raw) == 200 and calls == ["plain.test"]
    assert proxy.last().address == "127.0.0.1"
    raw = get(proxy.port, f"http://plain.test:{http_upstream.port}/twice", proxy.token)
    assert status_of(raw) == 403 and proxy.last().reason is Reason.METADATA
